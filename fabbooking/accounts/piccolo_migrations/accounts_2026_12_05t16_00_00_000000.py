"""Every signed-in page looks its browser session up by token: index it (piccolo_api's
table has none, so each request scanned every session ever opened)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index browser sessions by token"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        await DB.run_ddl("CREATE INDEX IF NOT EXISTS browser_session_token ON browser_session (token)")

    manager.add_raw(run)
    return manager
