"""No double booking, enforced by the database.

PostgreSQL: an exclusion constraint over the booking's time range (btree_gist lets the
machine id take part in a GiST index). SQLite has no exclusion constraint: triggers refuse
an overlapping row (timestamps are stored as UTC text of one format, so they compare as
text), and the booking service also serialises check-and-insert in an IMMEDIATE
transaction. Both: a booking ends after it starts.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-11-26T06:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "no overlapping bookings of one machine"

POSTGRES_SQL = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER TABLE booking ADD CONSTRAINT booking_ends_after_start CHECK (end_at > start_at)",
    """ALTER TABLE booking ADD CONSTRAINT booking_no_overlap
       EXCLUDE USING gist (machine WITH =, tstzrange(start_at, end_at, '[)') WITH &&)
       WHERE (status <> 'cancelled' AND status <> 'no_show')""",
]

_SQLITE_OVERLAP = """NEW.status NOT IN ('cancelled', 'no_show') AND EXISTS (
       SELECT 1 FROM booking AS other
       WHERE other.machine = NEW.machine AND other.id IS NOT NEW.id
         AND other.status NOT IN ('cancelled', 'no_show')
         AND other.start_at < NEW.end_at AND other.end_at > NEW.start_at)"""

SQLITE_SQL = [
    # SQLite cannot add a CHECK to an existing table; triggers give the same guarantee.
    """CREATE TRIGGER IF NOT EXISTS booking_ends_after_start_insert
       BEFORE INSERT ON booking WHEN NEW.end_at <= NEW.start_at
       BEGIN SELECT RAISE(ABORT, 'booking_ends_after_start'); END""",
    """CREATE TRIGGER IF NOT EXISTS booking_ends_after_start_update
       BEFORE UPDATE OF start_at, end_at ON booking WHEN NEW.end_at <= NEW.start_at
       BEGIN SELECT RAISE(ABORT, 'booking_ends_after_start'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS booking_no_overlap_insert
       BEFORE INSERT ON booking WHEN {_SQLITE_OVERLAP}
       BEGIN SELECT RAISE(ABORT, 'booking_no_overlap'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS booking_no_overlap_update
       BEFORE UPDATE OF start_at, end_at, status, machine ON booking WHEN {_SQLITE_OVERLAP}
       BEGIN SELECT RAISE(ABORT, 'booking_no_overlap'); END""",
    "CREATE INDEX IF NOT EXISTS booking_machine_start ON booking (machine, start_at)",
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
