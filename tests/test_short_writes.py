"""Short write transactions (a booking, a cancellation) run on SQLite on the event loop's own
connection (sqlite_pool's ``_LoopWriter``): they commit like any other, roll back whole, wait
for another process's write lock without stopping the loop, and never leave the connection
inside a transaction."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from fabbooking import database
from fabbooking.network.tables import Site
from fabbooking.sqlite_pool import PooledSQLiteEngine
from tests.conftest import make_site

pytestmark = pytest.mark.anyio


def _sqlite_path() -> str:
    engine = database.DB
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.fail("this test is about SQLite's short transactions")
    return engine.connection_kwargs["database"]


async def _names() -> list[str]:
    return sorted(r["name"] for r in await Site.select(Site.name))


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_short_transaction_commits_and_every_connection_sees_it(db):
    await make_site("atelier")
    async with database.write_transaction(short=True):
        await Site.update({Site.name: "Atelier du port"}).where(Site.slug == "atelier")
    assert await _names() == ["Atelier du port"]
    other = sqlite3.connect(_sqlite_path())
    try:
        assert other.execute("SELECT name FROM site").fetchall() == [("Atelier du port",)]
    finally:
        other.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_failed_short_transaction_leaves_nothing_and_the_next_one_works(db):
    await make_site("atelier")
    with pytest.raises(RuntimeError):
        async with database.write_transaction(short=True):
            await Site.update({Site.name: "À moitié"}).where(Site.slug == "atelier")
            raise RuntimeError("refused halfway")
    assert await _names() == ["Atelier"]
    async with database.write_transaction(short=True):
        await Site.update({Site.name: "Atelier du port"}).where(Site.slug == "atelier")
    assert await _names() == ["Atelier du port"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
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

    async def rename() -> None:
        async with database.write_transaction(short=True):
            await Site.update({Site.name: "Après l'attente"}).where(Site.slug == "atelier")

    ticker = asyncio.create_task(ticking())
    writer = asyncio.create_task(rename())
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


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_write_lock_held_past_the_busy_timeout_is_an_error_not_a_hang(db):
    await make_site("atelier")
    writer = database.DB.loop_writer()
    writer.busy_timeout_s = 0.2
    other = sqlite3.connect(_sqlite_path(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            async with database.write_transaction(short=True):
                await Site.update({Site.name: "Jamais"}).where(Site.slug == "atelier")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not writer.in_transaction
    assert await _names() == ["Atelier"]
