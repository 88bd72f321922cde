"""One message per dedupe key (the day-before reminder is written once however often its
job runs), one row per person and muted kind, and the drain's look-up of what is due.

(In its own migration: Piccolo runs a migration's raw steps before its new tables.)
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T18:38:20:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox keys and indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        await DB.run_ddl("CREATE UNIQUE INDEX IF NOT EXISTS outbox_dedupe_key ON outbox (dedupe_key)")
        await DB.run_ddl("CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_try_at) WHERE sent_at IS NULL")
        await DB.run_ddl("CREATE UNIQUE INDEX IF NOT EXISTS muted_kind_account_kind ON muted_kind (account, kind)")

    manager.add_raw(run)
    return manager
