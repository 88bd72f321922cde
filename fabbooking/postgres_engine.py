"""Piccolo's PostgreSQL engine, with a bound on every wait for the database.

asyncpg bounds a statement with ``command_timeout`` and a connection attempt with
``timeout``, but Piccolo takes and gives back pooled connections without a bound: when the
server freezes (or every connection is stuck), a request would wait for a free connection,
or for a dead one to be reset, until the client gives up. Here taking a connection from the
pool and giving it back are bounded too, and a connection that failed because the database
went away is cut at once rather than reset, so a request fails after about the timeout
(FABBOOKING_DB_TIMEOUT_S) and is answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from piccolo.engine.postgres import PostgresEngine, PostgresTransaction


class TimelyPostgresTransaction(PostgresTransaction):
    """``begin_with``: statements (literal SQL, no outside text) that take the transaction's
    locks first, sent with BEGIN as one simple query — one round trip instead of two. In a
    transaction already open (nested), they run there. The transaction is then BEGIN,
    COMMIT and ROLLBACK as plain statements instead of asyncpg's Transaction, whose state
    asyncpg's pool still reads from the server (an open transaction is rolled back before a
    connection serves again)."""

    engine: TimelyPostgresEngine

    def __init__(self, engine: TimelyPostgresEngine, allow_nested: bool = True, begin_with: str = "") -> None:
        super().__init__(engine=engine, allow_nested=allow_nested)
        self.begin_with = begin_with

    async def __aenter__(self) -> TimelyPostgresTransaction:
        if self._parent is not None:
            if self.begin_with:
                await self._parent.connection.execute(self.begin_with)
            return self._parent
        self.connection = await self.get_connection()
        try:
            self.transaction = None if self.begin_with else self.connection.transaction()
            await self.begin()
        except BaseException as exc:
            # Piccolo keeps the connection when BEGIN fails: the pool would lose it for good
            if not _cut_if_lost(self.connection, exc) and self.begin_with:
                with contextlib.suppress(Exception):  # BEGIN ran, a lock did not: end it here
                    await self.rollback()
            await self._give_back()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def begin(self) -> None:
        if self.begin_with:
            await self.connection.execute(f"BEGIN; {self.begin_with}")
        else:
            await super().begin()

    async def commit(self) -> None:
        if self.begin_with:
            await self.connection.execute("COMMIT")
            self._committed = True
        else:
            await super().commit()

    async def rollback(self) -> None:
        if self.begin_with:
            await self.connection.execute("ROLLBACK")
            self._rolled_back = True
        else:
            await super().rollback()

    async def _give_back(self) -> None:
        """Back to the pool; asyncpg closes a connection that cannot be reset in time."""
        if self.engine.pool:
            await self.engine.pool.release(self.connection, timeout=self.engine.wait_s)
        else:
            await self.connection.close(timeout=self.engine.wait_s)

    async def get_connection(self):
        if self.engine.pool:
            return await self.engine.pool.acquire(timeout=self.engine.wait_s)
        return await self.engine.get_new_connection()

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception and _cut_if_lost(self.connection, exception):
                self._rolled_back = True  # the server rolls back a transaction whose connection is gone
            elif exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException as failed:
            _cut_if_lost(self.connection, failed)
            raise
        finally:
            try:
                await self._give_back()
            finally:
                self.engine.current_transaction.reset(self.context)
        return exception is None


class TimelyPostgresEngine(PostgresEngine):
    """``PostgresEngine`` whose pool waits at most ``wait_s`` for a connection, or to give
    one back (None: no bound, as Piccolo does)."""

    def __init__(self, config: dict[str, Any], wait_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(config=config, **kwargs)
        self.wait_s = wait_s

    def transaction(self, allow_nested: bool = True, begin_with: str = "") -> TimelyPostgresTransaction:
        return TimelyPostgresTransaction(engine=self, allow_nested=allow_nested, begin_with=begin_with)

    async def start_connection_pool(self, **kwargs: Any) -> None:
        """Piccolo's pool, whose connections go back without asyncpg's reset statement."""
        await super().start_connection_pool(**{"reset": session_kept, **kwargs})

    async def close_connection_pool(self) -> None:
        """Close the pool; connections not given back in time are cut."""
        if self.pool is None:
            return
        pool, self.pool = self.pool, None
        try:
            await asyncio.wait_for(pool.close(), timeout=self.wait_s)
        except TimeoutError:
            pool.terminate()

    async def _run_in_pool(self, query: str, args=None):
        if not self.pool:
            raise ValueError("A pool isn't currently running.")
        connection = await self.pool.acquire(timeout=self.wait_s)
        try:
            return await connection.fetch(query, *(args or []))
        except BaseException as exc:
            _cut_if_lost(connection, exc)
            raise
        finally:
            await self.pool.release(connection, timeout=self.wait_s)


def _cut_if_lost(connection, exc: BaseException) -> bool:
    """Close at once a connection that failed because the database went away or did not
    answer in time: resetting it for the pool would only wait for the server again."""
    from fabbooking.outage import is_database_unavailable

    if is_database_unavailable(exc) and not connection.is_closed():
        connection.terminate()
    return is_database_unavailable(exc)


async def session_kept(connection: Any) -> None:
    """What a connection given back to the pool needs beyond what asyncpg always does (roll
    back a transaction left open, forget listeners): nothing. asyncpg's default reset sends
    one more statement at every release (unlock session advisory locks, close cursors,
    UNLISTEN, RESET ALL) — a round trip for every statement run outside a transaction, and
    for every transaction. The app's pooled connections hold none of those: its advisory
    locks are per transaction, it declares no cursor outside one, listens to nothing and
    sets no session variable (the statement timeout is a connection setting, the same for
    all; the migrations' session lock has a connection of its own, closed after)."""
