"""The history stamp: a counter per UTC day that every write into the past bumps.

The figures of a closed month are kept per process (fabbooking/figures/kept_months.py) and
used again only while the sum of these counters over the month's days is unchanged, so a
write into a closed month shows on the very next request. Counters only go up.

``figures_change(day, changes)``: ``day`` is the UTC day of a row's moment, counted from
1970-01-01 (SQLite: ``strftime('%s', moment) / 86400``; PostgreSQL: ``(moment AT TIME ZONE
'UTC')::date - date '1970-01-01'``); day -1 stands for the rows that touch months far from
their own day: a usage session longer than 7 days, a machine moved to another site or
changing kind, or deleted.

Triggers, after every insert, delete and update of what the figures read (the columns of
fabbooking/figures/queries.py), bump the day of the row's moment, old and new:

- booking: start_at (a booking lasts at most 7 days: a month's bookings start at most 7
  days before it);
- usage_session: started_at, and day -1 when it ran (ended_at, or started_at + duration_s)
  more than 7 days;
- workshop: starts_at; workshop_registration and workshop_attendance: their workshop's;
- project: created_at and done_at;
- machine: day -1 when its site or kind changes, or when it goes.

Only a row whose day is over (before the database's own current UTC day) bumps: bookings
made through the API lie ahead and machines report sessions as they start, so the busy
writers pay a comparison and never wait for a counter row. SQLite: a trigger per row, its
``WHEN`` the comparison. PostgreSQL: updates, a trigger per row with the comparison in its
``WHEN``; inserts and deletes, a trigger per statement that adds its rows up by day, so that a
bulk load or a batch of the listener bumps each day once. A month is kept only when its
last day is at least two days over (kept_months.py), which leaves a whole day for a write
that began before midnight to commit after.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-06T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the history stamp of the monthly figures: a counter per day, bumped by triggers"

LONG_S = 7 * 86400
# table: (the moments of a row, as SQL on ``{r}`` (OLD or NEW); the columns an update must set)
WATCHED = {
    "booking": (["{r}.start_at"], "machine, maker, start_at, end_at, status, purpose"),
    "usage_session": (["{r}.started_at"], "machine, started_at, ended_at, duration_s, walk_in"),
    "workshop": (["{r}.starts_at"], "site, starts_at, status"),
    "workshop_registration": (["(SELECT w.starts_at FROM workshop AS w WHERE w.id = {r}.workshop)"],
                              "workshop, status"),
    "workshop_attendance": (["(SELECT w.starts_at FROM workshop AS w WHERE w.id = {r}.workshop)"],
                            "workshop, audience, head_count, first_timers"),
    "project": (["{r}.created_at", "{r}.done_at"], "site, created_at, done_at"),
}
EVENTS = {"insert": ["NEW"], "delete": ["OLD"], "update": ["OLD", "NEW"]}  # SQLite: a trigger per row


# --- SQLite ------------------------------------------------------------------------------

def _sqlite_day(moment: str) -> str:
    return f"CAST(strftime('%s', {moment}) AS INTEGER) / 86400"


_SQLITE_TODAY = "CAST(strftime('%s', 'now') AS INTEGER) / 86400"


def _sqlite_over(moment: str) -> str:
    return f"{_sqlite_day(moment)} < {_SQLITE_TODAY}"


def _sqlite_bump(day: str, when: str) -> str:
    # « WHERE » is required before ON CONFLICT in an INSERT … SELECT (SQLite's parser)
    return (f"INSERT INTO figures_change (day, changes) SELECT {day}, 1 WHERE {when} "
            "ON CONFLICT (day) DO UPDATE SET changes = changes + 1;")


def _sqlite_long(r: str) -> str:
    return (f"{_sqlite_over(f'{r}.started_at')} AND (julianday({r}.ended_at) - julianday({r}.started_at) > 7 "
            f"OR {r}.duration_s > {LONG_S})")


def _sqlite_triggers() -> list[str]:
    statements = ["CREATE TABLE IF NOT EXISTS figures_change (day INTEGER PRIMARY KEY, changes BIGINT NOT NULL)"]
    for table, (moments, columns) in WATCHED.items():
        for event, rows in EVENTS.items():
            name = f"figures_{table}_{event}"
            found = [m.format(r=r) for r in rows for m in moments]
            body = [_sqlite_bump(_sqlite_day(m), _sqlite_over(m)) for m in found]
            when = [_sqlite_over(m) for m in found]
            if table == "usage_session":
                body += [_sqlite_bump("-1", " OR ".join(f"({_sqlite_long(r)})" for r in rows))]
            of = f" OF {columns}" if event == "update" else ""
            statements += [f"DROP TRIGGER IF EXISTS {name}",
                           f"CREATE TRIGGER {name} AFTER {event.upper()}{of} ON {table} "
                           f"WHEN {' OR '.join(when)} BEGIN {' '.join(body)} END"]
    changed = "OLD.site IS NOT NEW.site OR OLD.kind IS NOT NEW.kind"
    statements += [
        "DROP TRIGGER IF EXISTS figures_machine_update",
        "DROP TRIGGER IF EXISTS figures_machine_delete",
        f"CREATE TRIGGER figures_machine_update AFTER UPDATE OF site, kind ON machine WHEN {changed} "
        f"BEGIN {_sqlite_bump('-1', 'true')} END",
        f"CREATE TRIGGER figures_machine_delete AFTER DELETE ON machine BEGIN {_sqlite_bump('-1', 'true')} END",
    ]
    return statements


# --- PostgreSQL --------------------------------------------------------------------------

_POSTGRES_FUNCTIONS = [
    "CREATE TABLE IF NOT EXISTS figures_change (day integer PRIMARY KEY, changes bigint NOT NULL)",
    # the first moment of the current UTC day, as the statement that writes sees it
    """CREATE OR REPLACE FUNCTION figures_today() RETURNS timestamptz LANGUAGE sql STABLE AS
       $$ SELECT date_trunc('day', statement_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' $$""",
    """CREATE OR REPLACE FUNCTION figures_bump(day integer) RETURNS void LANGUAGE sql AS
       $$ INSERT INTO figures_change AS c (day, changes) VALUES ($1, 1)
          ON CONFLICT (day) DO UPDATE SET changes = c.changes + 1 $$""",
    """CREATE OR REPLACE FUNCTION figures_bump_at(moment timestamptz) RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         IF moment < figures_today() THEN
           PERFORM figures_bump((moment AT TIME ZONE 'UTC')::date - date '1970-01-01');
         END IF;
       END $$""",
]


def _postgres_long(r: str) -> str:
    return (f"{r}.started_at < figures_today() AND ({r}.ended_at - {r}.started_at > interval '7 days' "
            f"OR {r}.duration_s > {LONG_S})")


def _postgres_triggers() -> list[str]:
    """Inserts and deletes: one trigger per statement, which adds up its rows by day (a batch
    of the listener, or a bulk load, bumps each of its days once, not once per row: a row
    updated again and again within a transaction leaves a chain of versions that each update
    walks). Updates: one per row, only when its old or new moment is over."""
    statements = list(_POSTGRES_FUNCTIONS)
    for table, (moments, columns) in WATCHED.items():
        picked = " UNION ALL ".join(f"SELECT {m.format(r='t')} AS at FROM changed_rows AS t" for m in moments)
        body = ("INSERT INTO figures_change AS c (day, changes) "
                "SELECT (m.at AT TIME ZONE 'UTC')::date - date '1970-01-01', count(*) "
                f"FROM ({picked}) AS m WHERE m.at < figures_today() GROUP BY 1 "
                "ON CONFLICT (day) DO UPDATE SET changes = c.changes + excluded.changes;")
        if table == "usage_session":
            body += (f" INSERT INTO figures_change AS c (day, changes) SELECT -1, count(*) FROM changed_rows AS t "
                     f"WHERE {_postgres_long('t')} HAVING count(*) > 0 "
                     "ON CONFLICT (day) DO UPDATE SET changes = c.changes + excluded.changes;")
        statements.append(f"""CREATE OR REPLACE FUNCTION figures_{table}_rows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {body} RETURN NULL; END $$""")
        lines = []
        for r in ("OLD", "NEW"):
            lines += [f"PERFORM figures_bump_at({m.format(r=r)});" for m in moments]
            if table == "usage_session":
                lines.append(f"IF {_postgres_long(r)} THEN PERFORM figures_bump(-1); END IF;")
        statements.append(f"""CREATE OR REPLACE FUNCTION figures_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {' '.join(lines)} RETURN NULL; END $$""")
        for event, transition in (("insert", "NEW"), ("delete", "OLD")):
            statements += [f"DROP TRIGGER IF EXISTS figures_{table}_{event} ON {table}",
                           f"CREATE TRIGGER figures_{table}_{event} AFTER {event.upper()} ON {table} "
                           f"REFERENCING {transition} TABLE AS changed_rows FOR EACH STATEMENT "
                           f"EXECUTE FUNCTION figures_{table}_rows()"]
        # a subquery may not stand in a trigger's WHEN: the function compares those itself
        direct = [m for m in moments if not m.startswith("(")]
        when = " OR ".join(f"{m.format(r=r)} < figures_today()" for r in ("OLD", "NEW") for m in direct)
        statements += [f"DROP TRIGGER IF EXISTS figures_{table}_update ON {table}",
                       f"CREATE TRIGGER figures_{table}_update AFTER UPDATE OF {columns} ON {table} FOR EACH ROW "
                       + (f"WHEN ({when}) " if when else "") + f"EXECUTE FUNCTION figures_{table}_changed()"]
    statements += [
        """CREATE OR REPLACE FUNCTION figures_machine_changed() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN PERFORM figures_bump(-1); RETURN NULL; END $$""",
        "DROP TRIGGER IF EXISTS figures_machine_update ON machine",
        "DROP TRIGGER IF EXISTS figures_machine_delete ON machine",
        "CREATE TRIGGER figures_machine_update AFTER UPDATE OF site, kind ON machine FOR EACH ROW "
        "WHEN (OLD.site IS DISTINCT FROM NEW.site OR OLD.kind IS DISTINCT FROM NEW.kind) "
        "EXECUTE FUNCTION figures_machine_changed()",
        "CREATE TRIGGER figures_machine_delete AFTER DELETE ON machine FOR EACH ROW "
        "EXECUTE FUNCTION figures_machine_changed()",
    ]
    return statements


SQLITE_SQL = _sqlite_triggers()
POSTGRES_SQL = _postgres_triggers()


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="figures", description=DESCRIPTION)

    async def run():
        from fabbooking.database import DB

        statements = POSTGRES_SQL if isinstance(DB, PostgresEngine) else SQLITE_SQL
        for statement in statements:
            await DB.run_ddl(statement)

    manager.add_raw(run)
    return manager
