"""Saving and loading the database: SQLite through its online backup API, PostgreSQL
through pg_dump and pg_restore (the postgresql-client package)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fabbooking.errors import CommandFailed, CommandRefused
from fabbooking.settings import DatabaseUrl

# What migrations create beside Piccolo's tables (the figures' history stamp, migration
# figures_2026_12_06t00_00_00_000000; the references' change counters, migration
# references_2026_12_06t03_00_00_000000); a backup's own come back with it.
RAW_TABLES = ["figures_change", "reference_change"]
# the functions of their triggers, by the names' prefixes (a migration that adds one needs nothing here)
RAW_FUNCTION_PREFIXES = ("figures_", "reference_")


def _drop_tables() -> str:
    """Run first in a PostgreSQL restore's own transaction: the Fabbooking tables a (forced,
    or freshly migrated) target holds give way to the backup's, and so do the functions of
    their triggers. Other tables are left alone."""
    from fabbooking.database import all_tables

    tables = [f'public."{table._meta.tablename}"' for table in all_tables()]
    tables += [f'public."{name}"' for name in RAW_TABLES]
    prefixes = " OR ".join(f"p.proname LIKE '{prefix}%'" for prefix in RAW_FUNCTION_PREFIXES)
    functions = ("DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p "
                 f"JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND ({prefixes}) "
                 "LOOP EXECUTE 'DROP FUNCTION ' || f || ' CASCADE'; END LOOP; END $$;\n")
    return (f"SET client_min_messages = warning;\nDROP TABLE IF EXISTS {', '.join(tables)} CASCADE;\n"
            + functions)



def save_sqlite(database: DatabaseUrl, to: Path) -> None:
    """A consistent copy of the live file, safe while the app writes (sqlite3 backup API)."""
    if not Path(database.path).is_file():
        raise CommandRefused(f"there is no SQLite database at {database.path}: nothing to back up. "
                             "Check FABBOOKING_DATABASE_URL.")
    source = sqlite3.connect(database.path, timeout=30)
    target = sqlite3.connect(to)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def check_sqlite_file(path: Path) -> bool:
    """The file is a whole SQLite database (integrity check passes)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    except sqlite3.DatabaseError:
        return False


def counters_moved_on() -> int:
    """How far a restore moves the change counters of what processes keep — the references'
    (migration references_2026_12_06t03) and the figures' far-reaching day -1 (migration
    figures_2026_12_06t00), which every kept month's stamp counts: by a random amount, so
    that nothing a process still running kept under the counters of before can match the
    restored tables."""
    return secrets.randbelow(10**12) + 1


def _moved_on_sql(schema: str = "") -> dict[str, str]:
    """By table: the statement that moves its counters on (``schema``: "public." where a
    restore script has emptied the search path)."""
    moved = counters_moved_on()
    return {"reference_change": f"UPDATE {schema}reference_change SET changes = changes + {moved}",
            "figures_change": f"INSERT INTO {schema}figures_change AS c (day, changes) VALUES (-1, {moved}) "
                              f"ON CONFLICT (day) DO UPDATE SET changes = c.changes + {moved}"}


def load_sqlite(saved: Path, database: DatabaseUrl) -> None:
    """Copy ``saved`` into the configured database, all pages in one write transaction:
    on failure the target is left as it was. The counters are moved on in ``saved`` first,
    so they come in with the tables, in the same transaction."""
    with contextlib.closing(sqlite3.connect(saved)) as copy, copy:
        present = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, statement in _moved_on_sql().items():
            if table in present:
                copy.execute(statement)
    source = sqlite3.connect(f"file:{saved}?mode=ro", uri=True)
    target = sqlite3.connect(database.path, timeout=30)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
        source.close()


def _client(program: str) -> str:
    found = shutil.which(program)
    if not found:
        raise CommandRefused(
            f"the PostgreSQL program {program} is not installed here. Install the PostgreSQL "
            "client tools of your server's version (on Debian: apt install postgresql-client), "
            "then run the command again."
        )
    return found


def _connection(database: DatabaseUrl) -> tuple[str, dict[str, str]]:
    """The URI without its password, and an environment carrying it (PGPASSWORD), so the
    password does not show in the process list."""
    parts = urlsplit(database.dsn)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = parts.password
        host = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}@{host}" if user else host)
    return urlunsplit(parts._replace(scheme="postgresql")), env


def save_postgres(database: DatabaseUrl, to: Path) -> None:
    uri, env = _connection(database)
    result = subprocess.run([_client("pg_dump"), "--format=custom", f"--file={to}", f"--dbname={uri}"],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise CommandFailed(
            f"pg_dump could not save the database {database.label}: {result.stderr.strip()}\n"
            "If it says the server version is newer, install the postgresql-client of the server's version."
        )


def check_postgres_file(path: Path) -> bool:
    """pg_restore can read the dump's table of contents."""
    result = subprocess.run([_client("pg_restore"), "--list", str(path)], capture_output=True)
    return result.returncode == 0


def load_postgres(saved: Path, database: DatabaseUrl, work: Path) -> None:
    """Replace every table of the target by the dump's, in one transaction: on any error
    PostgreSQL rolls it all back and the target is left as it was."""
    script = work / "restore.sql"
    with script.open("w") as out:
        out.write(_drop_tables())
        out.flush()
        converted = subprocess.run(
            [_client("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(saved)],
            stdout=out, stderr=subprocess.PIPE, text=True)
    if converted.returncode != 0:
        raise CommandFailed(f"pg_restore could not read the saved database: {converted.stderr.strip()}")
    with script.open("a") as out:  # within the same transaction as the tables (see counters_moved_on)
        for table, statement in _moved_on_sql("public.").items():
            out.write(f"\nDO $$ BEGIN IF to_regclass('public.{table}') IS NOT NULL THEN {statement}; END IF; END $$;\n")
    uri, env = _connection(database)
    result = subprocess.run(
        [_client("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",
         f"--dbname={uri}", f"--file={script}"],
        env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise CommandFailed(
            f"the database {database.label} could not be restored, and was left as it was: "
            f"{result.stderr.strip()}"
        )
