"""The database engine and the Piccolo apps, chosen from FABBOOKING_DATABASE_URL.

Piccolo looks for ``DB`` and ``APP_REGISTRY`` in the module named by ``PICCOLO_CONF``;
the top-level ``piccolo_conf.py`` re-exports them, and ``fabbooking/__init__.py`` points
Piccolo here so that an installed ``fabbooking`` works from any folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from fabbooking.postgres_engine import TimelyPostgresEngine
from fabbooking.settings import ConfigError, DatabaseUrl, database_url, db_timeout_s
from fabbooking.sqlite_pool import PooledSQLiteEngine

APPS = [
    "fabbooking.accounts.piccolo_app",
    "fabbooking.network.piccolo_app",
    "fabbooking.training.piccolo_app",
    "fabbooking.bookings.piccolo_app",
    "fabbooking.usage.piccolo_app",
    "fabbooking.projects.piccolo_app",
    "fabbooking.workshops.piccolo_app",
    "fabbooking.jobs.piccolo_app",
    "fabbooking.idempotency.piccolo_app",
    "fabbooking.notifications.piccolo_app",
    "fabbooking.waiting.piccolo_app",
    "fabbooking.figures.piccolo_app",
    "fabbooking.references.piccolo_app",
]

APP_REGISTRY = AppRegistry(apps=APPS)


def build_engine(url: DatabaseUrl) -> Engine:
    """The engine for ``url``. Connecting waits at most FABBOOKING_DB_TIMEOUT_S; so does
    SQLite for a lock held by another process (its busy timeout)."""
    timeout = db_timeout_s()
    if url.kind == "sqlite":
        path = Path(url.path)
        if path.parent and not path.parent.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot create the folder {path.parent} for the SQLite database "
                    f"({exc.strerror}). Set FABBOOKING_DATABASE_URL to a writable place."
                ) from None
        return PooledSQLiteEngine(path=str(path), timeout=timeout)
    return TimelyPostgresEngine(config={"dsn": url.dsn, "timeout": timeout})


async def start_serving_pool(max_size: int) -> None:
    """PostgreSQL: the pool of a serving process, where no statement may keep a request
    waiting longer than FABBOOKING_DB_TIMEOUT_S — the server cancels it, and the client
    gives up one second later if the server does not answer at all. Commands (migrations,
    the demo) run without a statement bound."""
    if not is_postgres():
        return
    from fabbooking.outage import log_pool_retries_in_one_line

    log_pool_retries_in_one_line()
    timeout = db_timeout_s()
    if isinstance(DB, TimelyPostgresEngine):
        DB.wait_s = timeout
    await DB.start_connection_pool(
        min_size=1, max_size=max_size, command_timeout=timeout + 1,
        server_settings={"statement_timeout": str(int(timeout * 1000))})


DB: Engine = build_engine(database_url())


def is_postgres(engine: Engine | None = None) -> bool:
    return isinstance(engine or DB, PostgresEngine)


@dataclass(frozen=True)
class PoolUsage:
    in_use: int
    idle: int
    max_size: int


def pool_usage() -> PoolUsage | None:
    """The connections of this process's pool (for /metrics); None without a pool."""
    if isinstance(DB, PooledSQLiteEngine):
        return PoolUsage(DB.in_use, DB.idle_count, DB.pool_size)
    pool = getattr(DB, "pool", None)
    if pool is None:  # PostgreSQL without asyncpg's pool: a connection per query
        return None
    idle = pool.get_idle_size()
    return PoolUsage(pool.get_size() - idle, idle, pool.get_max_size())


def app_tables() -> list:
    """Every table of our apps, in app order."""
    return [t for name in APP_REGISTRY.app_configs for t in APP_REGISTRY.get_table_classes(name)]


def all_tables() -> list:
    from piccolo.apps.migrations.tables import Migration

    return [*app_tables(), Migration]


def use_engine(engine: Engine) -> None:
    """Point every table (and Piccolo's migration runner) at ``engine``."""
    global DB
    DB = engine
    for table in all_tables():
        table._meta.db = engine


def write_transaction(short: bool = False, locks: str = ""):
    """A transaction that takes SQLite's write lock at once (no deadlock between two
    processes that both read then write); a plain transaction on PostgreSQL. ``short``: a few
    statements on indexes (a booking, a cancellation), which SQLite runs on the event loop's
    own connection (see sqlite_pool). ``locks``: PostgreSQL's row or advisory locks the
    transaction takes first (literal SQL), sent with its BEGIN (see postgres_engine); SQLite's
    write lock holds every writer already."""
    from piccolo.engine.sqlite import SQLiteEngine, TransactionType

    from fabbooking.sqlite_pool import PooledSQLiteEngine

    if isinstance(DB, PooledSQLiteEngine):
        return DB.transaction(transaction_type=TransactionType.immediate, short=short)
    if isinstance(DB, SQLiteEngine):
        return DB.transaction(transaction_type=TransactionType.immediate)
    if locks and isinstance(DB, TimelyPostgresEngine):
        return DB.transaction(begin_with=locks)
    if locks:  # Piccolo's own engine (a test's, a script's): the locks as a first statement
        return _locked_first(DB.transaction(), locks)
    return DB.transaction()


@contextlib.asynccontextmanager
async def _locked_first(transaction: Any, locks: str) -> AsyncIterator[Any]:
    async with transaction as opened:
        await opened.connection.execute(locks)
        yield opened
