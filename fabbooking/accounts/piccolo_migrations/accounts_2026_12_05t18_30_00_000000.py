"""Each account keeps the Latin look-alike of its username (see accounts/usernames.py), so
that a new name that looks like an existing one is found with one indexed lookup."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.querystring import QueryString

ID = "2026-12-05T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "username skeletons, against look-alike usernames"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Account",
        tablename="account",
        column_name="username_skeleton",
        db_column_name="username_skeleton",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    async def fill():
        from fabbooking.accounts.usernames import skeleton
        from fabbooking.database import DB

        for row in await DB.run_ddl("SELECT id, username FROM account") or []:
            await DB.run_querystring(QueryString(
                "UPDATE account SET username_skeleton = {} WHERE id = {}",
                skeleton(row["username"])[:100], row["id"]))

    manager.add_raw(fill)
    return manager
