from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import SmallInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-05T19:03:22:919677"
VERSION = "1.38.0"
DESCRIPTION = "the hour of the day-before e-mail reminders, per site"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="network", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Site",
        tablename="site",
        column_name="reminder_hour",
        db_column_name="reminder_hour",
        column_class_name="SmallInt",
        column_class=SmallInt,
        params={
            "default": 17,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
