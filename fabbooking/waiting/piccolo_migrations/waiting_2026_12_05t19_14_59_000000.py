"""The look-up of a freed slot: wishes nobody was told about yet, by the end of their window.

(In its own migration: Piccolo runs a migration's raw steps before its new tables.)
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T19:14:59:000000"
VERSION = "1.38.0"
DESCRIPTION = "waiting list index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="waiting", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        await DB.run_ddl("CREATE INDEX IF NOT EXISTS machine_wish_waiting ON machine_wish (end_at) "
                         "WHERE told_at IS NULL")

    manager.add_raw(run)
    return manager
