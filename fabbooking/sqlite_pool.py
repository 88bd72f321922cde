"""SQLite connections that live: Piccolo's SQLite engine, with a small pool.

Piccolo's ``SQLiteEngine`` opens a new aiosqlite connection — a new OS thread, the file
opened, ``PRAGMA foreign_keys`` — for every query outside a transaction and for every
transaction; on a busy page that is most of the event loop's time. This engine keeps a few
connections open and hands them out in turn (as Datasette keeps its SQL threads), and
serialises this process's write transactions on an ``asyncio.Lock`` before they ask SQLite
for its write lock, so writers queue and wake at once instead of sleeping in SQLite's busy
handler. Other processes still meet at SQLite's own lock (busy timeout).

Nothing is cached: each statement outside a transaction runs in autocommit (WAL), so a
read sees every commit made before it, by any connection or process.

A *short* write transaction (``database.write_transaction(short=True)``: a booking, a
cancellation — a few statements on indexes) runs on the event loop's own writing connection
instead of a pooled one: each statement handed to a pooled connection's thread and back cost
about 55 µs of CPU and a turn of the GIL, more than the statement itself. Only its COMMIT,
which waits for the disk (fsync), goes to a thread. Its BEGIN never waits in SQLite's busy
handler on the loop: when another process holds the write lock it tries again after a short
asyncio sleep, until the busy timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import sqlite3
import time
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)

# Connections open at most; a query that finds them all busy waits for one (opening more
# only adds threads fighting for the GIL).
POOL_SIZE = 8
_WRITES = frozenset({"insert", "update", "delete"})
_READER_SERIALS = itertools.count(1)


def _busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite could not take a lock (another connection writes, checkpoints or recovers)."""
    return "locked" in str(exc) or "busy" in str(exc)


class _Reader(sqlite3.Connection):
    """The event loop's quick-read connection, numbered: ``PRAGMA data_version`` counts per
    connection, so its values mean something only beside the connection that read them."""

    serial: int


class _LoopWriter:
    """The event loop's own connection for short write transactions (see the module's
    docstring), with the part of aiosqlite's interface Piccolo's transaction uses. Only one
    transaction at a time uses it: the engine's write lock is held around each."""

    def __init__(self, connection: sqlite3.Connection, busy_timeout_s: float,
                 committer: concurrent.futures.Executor) -> None:
        self.connection = connection
        self.busy_timeout_s = busy_timeout_s
        self.committer = committer

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    def rows(self, sql: str, args: Any = ()) -> list[Any]:
        return self.connection.execute(sql, args).fetchall()

    async def execute(self, sql: str, args: Any = ()) -> list[Any]:
        if sql.startswith("BEGIN"):
            await self._begin(sql)
            return []
        if sql == "COMMIT":
            await self._commit()
            return []
        return self.rows(sql, args)

    async def _begin(self, sql: str) -> None:
        """BEGIN without blocking the loop: busy means another process writes; try again
        soon, until the busy timeout has passed (then SQLite's own error)."""
        deadline = time.monotonic() + self.busy_timeout_s
        pause = 0.001
        self.connection.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.connection.execute(sql)
                    return
                except sqlite3.OperationalError as exc:
                    if not _busy(exc) or time.monotonic() > deadline:
                        raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
        finally:
            self.connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")

    async def _commit(self) -> None:
        """COMMIT in a thread (it waits for the disk); the connection stays this
        transaction's until it is done, even when the task is cancelled meanwhile."""
        done = asyncio.get_running_loop().run_in_executor(self.committer, self.connection.execute, "COMMIT")
        cancelled = False
        while not done.done():  # however many times the task is cancelled meanwhile
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:  # what the caller hears of is its cancellation; a COMMIT error is read, not lost in the log
            if not done.cancelled():
                done.exception()
            raise asyncio.CancelledError
        done.result()  # the COMMIT's own error, if any

    def close(self) -> None:
        self.connection.close()


class PooledSQLiteTransaction(SQLiteTransaction):
    """A transaction on a pooled connection, or a short one on the loop's own writing
    connection. IMMEDIATE and EXCLUSIVE ones first take the engine's in-process write lock."""

    engine: PooledSQLiteEngine
    short = False

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self._write_lock = None
        if self.transaction_type is not TransactionType.deferred:
            self._write_lock = self.engine.write_lock()
            await self._write_lock.acquire()
        try:
            self.connection = self.engine.loop_writer() if self.short else await self.engine.acquire()
            try:
                await self.begin()
            except BaseException:
                self._give_back()
                raise
        except BaseException:
            if self._write_lock is not None:
                self._write_lock.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            try:
                self._give_back()
            finally:
                self.engine.current_transaction.reset(self.context)
                if self._write_lock is not None:
                    self._write_lock.release()
        return exception is None

    def _give_back(self) -> None:
        if isinstance(self.connection, _LoopWriter):
            self.engine.settle_loop_writer(self.connection)
        else:
            self.engine.release(self.connection)


class PooledSQLiteEngine(SQLiteEngine):
    """``SQLiteEngine`` that reuses its connections (see the module's docstring)."""

    def __init__(self, path: str, pool_size: int = POOL_SIZE, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.pool_size = pool_size
        self._idle: list[aiosqlite.Connection] = []
        self.in_use = 0  # connections handed out and not given back (for /metrics)
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._turns: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._readers: dict[asyncio.AbstractEventLoop, sqlite3.Connection] = {}
        self._writers: dict[asyncio.AbstractEventLoop, _LoopWriter] = {}
        self._committer: concurrent.futures.ThreadPoolExecutor | None = None

    # --- the pool ------------------------------------------------------------------------

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # A pooled connection outlives requests: its thread must not keep a finished
        # program from exiting (every commit is already on disk; SQLite recovers the rest).
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]  # aiosqlite types it narrowly
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def acquire(self) -> aiosqlite.Connection:
        """A connection of the pool, once one is free (at most ``pool_size`` at a time per
        event loop). Give it back with ``release``."""
        turns = self._per_loop(self._turns, lambda: asyncio.Semaphore(self.pool_size))
        await turns.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection._running and connection._connection is not None:
                    break
            else:
                connection = await self._open()
        except BaseException:
            turns.release()
            raise
        self.in_use += 1
        return connection

    def release(self, connection: aiosqlite.Connection) -> None:
        """Back to the pool — unless it is still inside a transaction (a commit or rollback
        that failed or was cancelled): closing it rolls that back and frees SQLite's lock."""
        self._per_loop(self._turns, lambda: asyncio.Semaphore(self.pool_size)).release()
        self.in_use -= 1
        try:
            reusable = connection._running and not connection.in_transaction
        except ValueError:  # already closed
            return
        if reusable and len(self._idle) < self.pool_size:
            self._idle.append(connection)
        else:
            connection.stop()

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def close_pool(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.close()
        writers, self._writers = list(self._writers.values()), {}
        for writer in writers:
            writer.close()
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.shutdown(wait=False)
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    def write_lock(self) -> asyncio.Lock:
        return self._per_loop(self._locks, asyncio.Lock)

    @staticmethod
    def _per_loop(table: dict, make):
        """asyncio primitives belong to one event loop (tests and CLI commands run several
        in turn): one per running loop, forgetting those of closed loops."""
        loop = asyncio.get_running_loop()
        found = table.get(loop)
        if found is None:
            for old in [old for old in table if old.is_closed()]:
                del table[old]
            found = table[loop] = make()
        return found

    # --- quick reads on the event loop's own connection --------------------------------------

    # A prepared query (``prepared.QuickRead``: one short statement on an index) outside a
    # transaction runs at once on a connection of the event loop's own thread: handing it to
    # a pooled connection's thread and waiting for the answer cost more than the query (15 %
    # of the availability API's CPU). In WAL mode a reader never waits for a writer, and it
    # runs in autocommit, so it sees every commit made before it, like the pooled ones. If
    # SQLite ever says busy (a checkpoint, a recovery), the query goes to the pool instead of
    # holding the loop.

    def _open_reader(self) -> sqlite3.Connection:
        reader = sqlite3.connect(**{**self.connection_kwargs, "timeout": 0}, check_same_thread=False,
                                 factory=_Reader)
        reader.serial = next(_READER_SERIALS)
        reader.row_factory = dict_factory
        reader.execute("PRAGMA query_only = 1")
        return reader

    # --- short write transactions on the event loop's own connection ------------------------

    def loop_writer(self) -> _LoopWriter:
        return self._per_loop(self._writers, self._open_writer)

    def _open_writer(self) -> _LoopWriter:
        connection = sqlite3.connect(**{**self.connection_kwargs, "isolation_level": None}, check_same_thread=False)
        connection.row_factory = dict_factory
        connection.execute("PRAGMA foreign_keys = 1")
        if self._committer is None:
            self._committer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        return _LoopWriter(connection, float(self.connection_kwargs.get("timeout", 5.0)), self._committer)

    def settle_loop_writer(self, writer: _LoopWriter) -> None:
        """After a transaction: a writer still inside one (its commit or rollback failed or
        was cancelled) is closed, which rolls back and frees SQLite's lock; the next short
        transaction opens another."""
        try:
            reusable = not writer.in_transaction
        except sqlite3.ProgrammingError:  # closed meanwhile (close_pool)
            reusable = False
        if not reusable:
            for loop, kept in list(self._writers.items()):
                if kept is writer:
                    del self._writers[loop]
            with contextlib.suppress(sqlite3.Error):
                writer.close()

    # ``PRAGMA data_version`` on the quick-read connection (it never writes) changes whenever
    # any other connection, of this process or another, has committed since it last asked:
    # fabbooking.data_version reads it so, with the connection's number. Busy: no answer.

    def _data_version(self) -> list[dict[str, Any]]:
        reader = self._per_loop(self._readers, self._open_reader)
        try:
            rows = reader.execute("PRAGMA data_version").fetchall()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            return []
        return [{"data_version": rows[0]["data_version"], "connection": reader.serial}]

    async def run_querystring(self, querystring, in_pool: bool = False):
        if getattr(querystring, "data_version", False):
            return self._data_version()
        if getattr(querystring, "quick", False) and self.current_transaction.get() is None:
            sql, args = querystring.compile_string(engine_type="sqlite")
            reader = self._per_loop(self._readers, self._open_reader)
            try:
                return reader.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        return await super().run_querystring(querystring, in_pool=in_pool)

    # --- Piccolo's entry points --------------------------------------------------------------

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred,
                    allow_nested: bool = True, short: bool = False) -> SQLiteTransaction:
        if short and transaction_type is TransactionType.deferred:
            # two deferred transactions could share the loop's one writing connection
            raise ValueError("a short transaction takes the write lock: IMMEDIATE or EXCLUSIVE")
        transaction = PooledSQLiteTransaction(engine=self, transaction_type=transaction_type,
                                              allow_nested=allow_nested)
        transaction.short = short
        return transaction

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None,
                                     query_type: str = "generic", table: Any = None):
        """Outside a transaction: a pooled connection, in autocommit. A write takes the
        in-process write lock first, like a write transaction."""
        lock = self.write_lock() if query_type in _WRITES else None
        if lock is not None:
            await lock.acquire()
        try:
            connection = await self.acquire()
            try:
                async with connection.execute(query, args or []) as cursor:
                    return await cursor.fetchall()
            finally:
                self.release(connection)
        finally:
            if lock is not None:
                lock.release()

    async def _run_in_existing_connection(self, connection, query: str, args: list[Any] | None = None,
                                          query_type: str = "generic", table: Any = None):
        """Inside a transaction: the pragma Piccolo repeats before every statement was set
        once, when the connection was opened."""
        if isinstance(connection, _LoopWriter):
            return connection.rows(query, args or [])
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()
