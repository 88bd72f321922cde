"""The change counters of the references: one per table, bumped by triggers on every write.

``reference_change(name, changes)`` has a row per watched table. A trigger after every
insert, delete and update of the table (for ``account``, only of the columns that say who
someone is: username, role, language, active) adds one to its row, in the writing
transaction: a value of the counter names one committed content of its table. What a process
keeps (fabbooking/references/kept.py) is used again only while the counters it was read
under are unchanged, so a write shows on the very next request.

The counters start at a random value per database, so that two databases (a restored backup
of another network, say) never share a value by chance.

SQLite: a trigger per row. PostgreSQL: a trigger per statement, TRUNCATE included (one
function for every table: it reads the table's name), enabled ALWAYS (replication's replica
role too). On PostgreSQL a transaction first takes one advisory lock before it bumps any
counter, so two transactions that write several watched tables in different orders (an
account created, an account erased) never hold one counter row each while waiting for the
other's: SQLite has one writer at a time anyway.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-06T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "change counters of the references kept between requests, bumped by triggers"

# table: the columns an update must set to count (None: any)
WATCHED = {
    "account": "username, role, language, active",
    "api_token": None,
    "closure": None,
    "machine": None,
    "opening_period": None,
    "qualification": None,
    "site": None,
    "staff": None,
    "training": None,
}
_START = "abs(random() % 1000000000000)"  # SQLite's random(); PostgreSQL's below
LOCK_KEY = 7306425311  # pg_advisory_xact_lock's key (one bigint: its own key space) for the counters


def _sqlite() -> list[str]:
    statements = ["CREATE TABLE IF NOT EXISTS reference_change (name TEXT PRIMARY KEY, changes BIGINT NOT NULL)"]
    for table, columns in WATCHED.items():
        statements.append(f"INSERT OR IGNORE INTO reference_change (name, changes) VALUES ('{table}', {_START})")
        bump = f"UPDATE reference_change SET changes = changes + 1 WHERE name = '{table}';"
        for event in ("insert", "update", "delete"):
            of = f" OF {columns}" if event == "update" and columns else ""
            statements += [f"DROP TRIGGER IF EXISTS reference_{table}_{event}",
                           f"CREATE TRIGGER reference_{table}_{event} AFTER {event.upper()}{of} ON {table} "
                           f"BEGIN {bump} END"]
    return statements


def _postgres() -> list[str]:
    statements = [
        "CREATE TABLE IF NOT EXISTS reference_change (name text PRIMARY KEY, changes bigint NOT NULL)",
        f"""CREATE OR REPLACE FUNCTION reference_bump() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             PERFORM pg_advisory_xact_lock({LOCK_KEY});
             UPDATE reference_change SET changes = changes + 1 WHERE name = TG_TABLE_NAME;
             RETURN NULL;
           END $$""",
    ]
    for table, columns in WATCHED.items():
        statements.append("INSERT INTO reference_change (name, changes) "
                          f"VALUES ('{table}', floor(random() * 1000000000000)::bigint) ON CONFLICT (name) DO NOTHING")
        update = f"UPDATE OF {columns}" if columns else "UPDATE"
        statements += [f"DROP TRIGGER IF EXISTS reference_{table}_written ON {table}",
                       f"DROP TRIGGER IF EXISTS reference_{table}_updated ON {table}",
                       f"CREATE TRIGGER reference_{table}_written AFTER INSERT OR DELETE OR TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION reference_bump()",
                       f"CREATE TRIGGER reference_{table}_updated AFTER {update} ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION reference_bump()",
                       f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER reference_{table}_written",
                       f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER reference_{table}_updated"]
    return statements


SQLITE_SQL = _sqlite()
POSTGRES_SQL = _postgres()


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="references", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        statements = POSTGRES_SQL if isinstance(DB, PostgresEngine) else SQLITE_SQL
        for statement in statements:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
