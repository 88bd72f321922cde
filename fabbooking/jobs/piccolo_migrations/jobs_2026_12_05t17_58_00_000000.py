"""One run per job and tick: the unique key a second process meets when the tick is taken.

(In its own migration: Piccolo runs a migration's raw steps before its new tables.)
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T17:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique job run per job and tick"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="jobs", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        await DB.run_ddl("CREATE UNIQUE INDEX IF NOT EXISTS job_run_job_tick ON job_run (job, tick)")

    manager.add_raw(run)
    return manager
