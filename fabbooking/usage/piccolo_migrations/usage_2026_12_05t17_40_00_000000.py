"""Usage sessions read by bounded ranges for the monthly figures.

A month's figures (fabbooking/figures/queries.py) read, for each site's machines, the
sessions started from a day before the month to its end, and the few older ones still
running into it, found by their end:

- ``usage_session_machine_started (machine, started_at)``: a machine's sessions of a month
  (SQLite walks each site's machines; the single-column index on started_at stays for the
  network-wide ranges).
- ``usage_session_ended_started (ended_at, started_at)``: sessions ended after the month
  began, the start read from the index itself.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-05T17:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the monthly figures' session ranges"

SQL = [
    "CREATE INDEX IF NOT EXISTS usage_session_machine_started ON usage_session (machine, started_at)",
    "CREATE INDEX IF NOT EXISTS usage_session_ended_started ON usage_session (ended_at, started_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="usage", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        for statement in SQL:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
