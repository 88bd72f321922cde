"""Bookings read by bounded ranges, at any size of history.

A booking lasts at most LONGEST_BOOKING (7 days), enforced here by the database, so every
overlap question ("what holds this machine between start and end?") can bound ``start_at``
on both sides — ``start - 7 days < start_at < end`` — and read a few index entries instead of
the machine's whole history:

- ``booking_machine_start (machine, start_at)``: busy times, the overlap check, the week
  page (PostgreSQL had only the exclusion constraint's GiST index, which these range
  predicates cannot use).
- ``booking_maker_start (maker, start_at)``: a maker's bookings, upcoming and past, and the
  quota count.
- the single-column indexes on machine and on maker go: the two above serve the same lookups
  (their first column), and a planner that could still pick them would read a machine's or
  a maker's whole history.
- SQLite's overlap triggers get the same lower bound (timestamps are stored as UTC text
  ``YYYY-MM-DD HH:MM:SS+00:00``; the bound, without its offset, compares one step lower, so
  the check can only look at a little more, never less).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-05T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bookings last at most 7 days; indexes for bounded ranges"

POSTGRES_SQL = [
    "ALTER TABLE booking ADD CONSTRAINT booking_at_most_7_days CHECK (end_at - start_at <= interval '7 days')",
    "CREATE INDEX IF NOT EXISTS booking_machine_start ON booking (machine, start_at)",
    "CREATE INDEX IF NOT EXISTS booking_maker_start ON booking (maker, start_at)",
    "DROP INDEX IF EXISTS booking_machine",
    "DROP INDEX IF EXISTS booking_maker",
]

_SQLITE_OVERLAP = """NEW.status NOT IN ('cancelled', 'no_show') AND EXISTS (
       SELECT 1 FROM booking AS other
       WHERE other.machine = NEW.machine AND other.id IS NOT NEW.id
         AND other.status NOT IN ('cancelled', 'no_show')
         AND other.start_at >= strftime('%Y-%m-%d %H:%M:%S', NEW.start_at, '-7 days')
         AND other.start_at < NEW.end_at AND other.end_at > NEW.start_at)"""

_SQLITE_TOO_LONG = "julianday(NEW.end_at) - julianday(NEW.start_at) > 7"

SQLITE_SQL = [
    "DROP TRIGGER IF EXISTS booking_no_overlap_insert",
    "DROP TRIGGER IF EXISTS booking_no_overlap_update",
    f"""CREATE TRIGGER booking_no_overlap_insert
       BEFORE INSERT ON booking WHEN {_SQLITE_OVERLAP}
       BEGIN SELECT RAISE(ABORT, 'booking_no_overlap'); END""",
    f"""CREATE TRIGGER booking_no_overlap_update
       BEFORE UPDATE OF start_at, end_at, status, machine ON booking WHEN {_SQLITE_OVERLAP}
       BEGIN SELECT RAISE(ABORT, 'booking_no_overlap'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS booking_at_most_7_days_insert
       BEFORE INSERT ON booking WHEN {_SQLITE_TOO_LONG}
       BEGIN SELECT RAISE(ABORT, 'booking_at_most_7_days'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS booking_at_most_7_days_update
       BEFORE UPDATE OF start_at, end_at ON booking WHEN {_SQLITE_TOO_LONG}
       BEGIN SELECT RAISE(ABORT, 'booking_at_most_7_days'); END""",
    "CREATE INDEX IF NOT EXISTS booking_machine_start ON booking (machine, start_at)",
    "CREATE INDEX IF NOT EXISTS booking_maker_start ON booking (maker, start_at)",
    "DROP INDEX IF EXISTS booking_machine",
    "DROP INDEX IF EXISTS booking_maker",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="bookings", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        statements = POSTGRES_SQL if isinstance(DB, PostgresEngine) else SQLITE_SQL
        for statement in statements:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
