"""When the database goes away: recognise it, say it once in the log, notice its return.

A request that meets an unreachable, stopped, frozen or overloaded database is answered 503
« try again in a moment » (fabbooking.api.errors, fabbooking.web.errors) rather than 500. The
log gets one line when an outage begins and one when the database answers again, not a
traceback per request: while it is down, a watcher asks it a trivial question every second.
Nothing is restarted: the engine's pool opens new connections once the server is back.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

from fabbooking.settings import db_timeout_s

log = logging.getLogger("fabbooking")

RETRY_AFTER_S = 5
WATCH_EVERY_S = 1.0
# SQLite's own words for a file it cannot reach or a lock it could not get in time
_SQLITE_UNAVAILABLE = ("unable to open", "database is locked", "disk i/o error", "readonly database")
# code that talks to the database: an OSError or a timeout raised through it is an outage
_DATABASE_CLIENTS = ("asyncpg", "aiosqlite", "sqlite3", "piccolo.engine", "fabbooking.postgres_engine",
                     "fabbooking.sqlite_pool")


def is_database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached, lost the connection, is shutting down or starting,
    has no room for another connection, or did not answer within the timeout."""
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - installed with piccolo[postgres]
        asyncpg = None
    if asyncpg is not None:
        if isinstance(exc, asyncpg.ClientConfigurationError):
            return False
        # InternalClientError: a connection left mid-operation by the server going away
        if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | asyncpg.PostgresConnectionError
                      | asyncpg.InsufficientResourcesError | asyncpg.OperatorInterventionError):
            return True
    if isinstance(exc, sqlite3.OperationalError):
        return any(words in str(exc).lower() for words in _SQLITE_UNAVAILABLE)
    if isinstance(exc, OSError | TimeoutError):
        return _raised_by_database_client(exc)
    return False


def _raised_by_database_client(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(_DATABASE_CLIENTS):
            return True
        tb = tb.tb_next
    return False


async def database_answers() -> bool:
    """The database answers ``SELECT 1`` within FABBOOKING_DB_TIMEOUT_S."""
    from fabbooking import database

    try:
        async with asyncio.timeout(db_timeout_s()):
            await database.DB.run_ddl("SELECT 1", in_pool=True)
    except Exception as exc:  # noqa: BLE001 - any failure means « not ready »
        if not is_database_unavailable(exc) and not isinstance(exc, TimeoutError):
            log.warning("the database readiness check failed: %r", exc)
        return False
    OUTAGE.answered()
    return True


class Outage:
    """This process's view of the database: up, or down since a moment."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self._watcher: asyncio.Task | None = None

    def noticed(self, exc: BaseException) -> None:
        """A request failed because of ``exc``, a database outage: log its start once."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            why = str(exc) or f"no answer within {db_timeout_s():g} s"
            log.error("the database is unavailable (%s: %s); answering 503 until it answers again",
                      type(exc).__name__, why)
        loop = asyncio.get_running_loop()
        # (a watcher of an event loop that has ended — tests, commands — watches nothing)
        if self._watcher is None or self._watcher.done() or self._watcher.get_loop() is not loop:
            self._watcher = loop.create_task(self._watch())

    def answered(self) -> None:
        """The database answered a check (the watcher's, or /readyz's): log the outage's end."""
        if self.down_since is not None:
            lasted, self.down_since = time.monotonic() - self.down_since, None
            log.warning("the database answers again, after %.0f s", lasted)

    async def _watch(self) -> None:
        while self.down_since is not None:
            await asyncio.sleep(WATCH_EVERY_S)
            await database_answers()


OUTAGE = Outage()


class PoolRetriesInOneLine(logging.Filter):
    """asyncpg's pool logs a traceback each time it fails to reopen a connection: while an
    outage is known that says nothing new; otherwise one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if OUTAGE.down_since is not None:
            return False
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def log_pool_retries_in_one_line() -> None:
    pool_log = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, PoolRetriesInOneLine) for f in pool_log.filters):
        pool_log.addFilter(PoolRetriesInOneLine())
