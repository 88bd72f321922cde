"""Short write transactions (a booking, a cancellation) run on SQLite on the event loop's own
connection (sqlite_pool's ``_LoopWriter``): they commit like any other, roll back whole, wait
for another process's write lock without stopping the loop, and never leave the connection
inside a transaction."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from fabbooking import database
from fabbooking.network.tables import Site
from fabbooking.sqlite_pool import PooledSQLiteEngine
from tests.conftest import make_site

# every test here is about SQLite's short transactions
pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]


def _sqlite_path() -> str:
    engine = database.DB
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.fail("this test is about SQLite's short transactions")
    return engine.connection_kwargs["database"]


async def _names() -> list[str]:
    return sorted(r["name"] for r in await Site.select(Site.name))


async def _rename(name: str) -> None:
    """The site « atelier » renamed by a short write transaction."""
    async with database.write_transaction(short=True):
        await Site.update({Site.name: name}).where(Site.slug == "atelier")


async def test_a_short_transaction_commits_and_every_connection_sees_it(db):
    await make_site("atelier")
    await _rename("Atelier du port")
    assert await _names() == ["Atelier du port"]
    other = sqlite3.connect(_sqlite_path())
    try:
        assert other.execute("SELECT name FROM site").fetchall() == [("Atelier du port",)]
    finally:
        other.close()


async def test_a_failed_short_transaction_leaves_nothing_and_the_next_one_works(db):
    await make_site("atelier")
    with pytest.raises(RuntimeError):
        async with database.write_transaction(short=True):
            await Site.update({Site.name: "À moitié"}).where(Site.slug == "atelier")
            raise RuntimeError("refused halfway")
    assert await _names() == ["Atelier"]
    await _rename("Atelier du port")
    assert await _names() == ["Atelier du port"]


async def test_waiting_for_another_process_write_lock_does_not_stop_the_loop(db):
    await make_site("atelier")
    other = sqlite3.connect(_sqlite_path(), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(ticking())
    writer = asyncio.create_task(_rename("Après l'attente"))
    try:
        for _ in range(200):  # the loop keeps turning while the writer waits
            if ticks >= 20:
                break
            await asyncio.sleep(0.005)
        assert ticks >= 20 and not writer.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writer, timeout=10)
    finally:
        ticker.cancel()
        other.close()
    assert await _names() == ["Après l'attente"]


async def test_a_write_lock_held_past_the_busy_timeout_is_an_error_not_a_hang(db):
    await make_site("atelier")
    writer = database.DB.loop_writer()
    writer.busy_timeout_s = 0.2
    other = sqlite3.connect(_sqlite_path(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await _rename("Jamais")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not writer.in_transaction
    assert await _names() == ["Atelier"]


class _SlowCommit:
    """The writing connection, its COMMIT slowed down (a slow disk) so a test can act meanwhile."""

    def __init__(self, connection: sqlite3.Connection, started: asyncio.Event, loop) -> None:
        self._connection, self._started, self._loop = connection, started, loop

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            self._loop.call_soon_threadsafe(self._started.set)
            time.sleep(0.3)
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._connection, name)


async def test_a_short_transaction_cancelled_during_its_commit_is_committed_whole_and_frees_the_lock(db):
    await make_site("atelier")
    writer = database.DB.loop_writer()
    plain = writer.connection
    started = asyncio.Event()
    writer.connection = _SlowCommit(plain, started, asyncio.get_running_loop())

    task = asyncio.create_task(_rename("Engagé"))
    try:
        await asyncio.wait_for(started.wait(), timeout=10)
        task.cancel()  # twice, as a cancel scope does: the commit still finishes first
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not plain.in_transaction, "the lock is freed only once the COMMIT is over"
    finally:
        writer.connection = plain
    assert not database.DB.write_lock().locked()
    assert await _names() == ["Engagé"]
    await _rename("Ensuite")
    assert await _names() == ["Ensuite"]


async def test_connections_closed_under_a_short_transaction_leave_no_lock_held(db):
    await make_site("atelier")
    with pytest.raises((sqlite3.ProgrammingError, RuntimeError)):  # closed connection, stopped committer
        async with database.write_transaction(short=True):
            await Site.update({Site.name: "Jamais"}).where(Site.slug == "atelier")
            await database.DB.close_pool()  # the app stopping under a booking
    assert not database.DB.write_lock().locked()
    await _rename("Atelier du port")  # a new writing connection
    assert await _names() == ["Atelier du port"]


async def test_a_short_transaction_always_takes_the_write_lock(db):
    from piccolo.engine.sqlite import TransactionType

    with pytest.raises(ValueError, match="IMMEDIATE"):
        database.DB.transaction(transaction_type=TransactionType.deferred, short=True)
