"""Running one async step of a command, with database and domain errors turned into
sentences (CommandFailed) instead of tracebacks; and, for the long-running ones (``worker``,
``listen``), stopping on SIGTERM as on Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable

from fabbooking.errors import CommandFailed
from fabbooking.settings import load_settings


def run(coroutine_factory: Callable[[], Awaitable[object]], *, until_stopped: bool = False) -> object:
    """Run an async step, turning database and domain errors into CommandFailed.

    ``until_stopped``: a step that runs until the process is stopped. SIGTERM (what systemd
    and ``serve --workers`` send) then cancels it, as Ctrl-C does, so that its ``finally``
    blocks run — the listener finishes and acknowledges the batch in hand and disconnects,
    a background job's transaction is rolled back, the pool is closed — and the command
    ends normally (exit code 0) instead of being killed by the signal midway."""
    from fabbooking.errors import Refused
    from fabbooking.messages import pick_language, render

    async def guarded() -> object:
        stopped = _stop_on_sigterm() if until_stopped else None
        try:
            return await coroutine_factory()
        except asyncio.CancelledError:
            if stopped is not None and stopped.is_set():
                return None
            raise
        except Refused as exc:
            language = pick_language(os.environ.get("LANG", "").replace("_", "-"))
            raise CommandFailed(render(exc.code, language, **exc.params)) from None
        except (OSError, ConnectionError) as exc:
            raise CommandFailed(_unreachable(exc)) from None
        except Exception as exc:
            if _connection_refused(exc):
                raise CommandFailed(_unreachable(exc)) from None
            if _tables_missing(exc):
                raise CommandFailed(
                    f"the database {load_settings().database.label} has no Fabbooking tables "
                    "yet: run 'fabbooking migrate' first."
                ) from None
            raise

    _check_sqlite_opens()
    return asyncio.run(guarded())


def _stop_on_sigterm() -> asyncio.Event:
    """Cancel the running task on SIGTERM; the event says that it happened."""
    task = asyncio.current_task()
    assert task is not None
    stopped = asyncio.Event()

    def stop() -> None:
        if not stopped.is_set():
            logging.getLogger("fabbooking").info("SIGTERM: stopping")
            stopped.set()
            task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
    return stopped


# PostgreSQL answered but would not let us in: connection exceptions (08...), wrong user or
# password, unknown database, server starting or shutting down, too many connections.
_REFUSED_SQLSTATES = {"28000", "28P01", "3D000", "57P03", "53300"}


def _connection_refused(exc: BaseException) -> bool:
    """The database could not be opened at all (as opposed to a failing query)."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return "unable to open database file" in str(exc)
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return sqlstate.startswith("08") or sqlstate in _REFUSED_SQLSTATES


def _tables_missing(exc: BaseException) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return "no such table" in str(exc)
    return getattr(exc, "sqlstate", None) == "42P01"  # undefined_table


def _check_sqlite_opens() -> None:
    """Open a SQLite file synchronously first: when aiosqlite fails to open it, its worker
    thread can outlive the event loop and print a stray traceback."""
    import sqlite3

    database = load_settings().database
    if database.kind != "sqlite":
        return
    try:
        sqlite3.connect(database.path).close()
    except sqlite3.Error as exc:
        raise CommandFailed(_unreachable(exc)) from None


def _unreachable(exc: BaseException) -> str:
    database = load_settings().database
    where = database.label
    if database.kind == "sqlite":
        return (f"cannot open the SQLite database {where} ({exc}). Check that "
                "FABBOOKING_DATABASE_URL names a file in a folder you may write to.")
    return (
        f"cannot reach the database {where} ({exc}). Is the server running and is "
        "FABBOOKING_DATABASE_URL right?"
    )
