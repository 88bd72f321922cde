"""A database that cannot be reached is a 503 « try again » with Retry-After, on the API and
on pages; /readyz says so; the log says it once, and once more when it is back.
(The same against a real PostgreSQL stopped and frozen: test_database_outage.py.)"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from fabbooking import database, outage
from fabbooking.settings import ConfigError, db_timeout_s, parse_database_url
from fabbooking.sqlite_pool import PooledSQLiteEngine
from tests.conftest import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
async def unreachable(tmp_path: Path, sqlite_template: Path):
    """The app's tables on a SQLite file in a folder that does not exist; ``back()`` points
    them at a good copy of the database."""
    before = database.DB
    gone = PooledSQLiteEngine(path=str(tmp_path / "gone" / "fabbooking.sqlite3"))
    good_path = tmp_path / "fabbooking.sqlite3"
    shutil.copy(sqlite_template, good_path)
    good = PooledSQLiteEngine(path=str(good_path))
    database.use_engine(gone)
    outage.OUTAGE.down_since = None
    try:
        yield lambda: database.use_engine(good)
    finally:
        database.use_engine(before)
        outage.OUTAGE.down_since = None
        await good.close_pool()


@pytest.fixture
async def http(app):
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_an_unreachable_database_is_503_try_again_then_recovers(unreachable, http, caplog):
    caplog.set_level(logging.INFO, logger="fabbooking")
    api = await http.get("/api/v1/sites", headers={"Accept-Language": "en"})
    assert api.status_code == 503 and api.headers["retry-after"] == "5"
    assert api.json() == {"code": "unavailable", "detail": api.json()["detail"]}
    assert "Try again in a moment" in api.json()["detail"]

    page = await http.get("/", headers={"Accept-Language": "fr"})
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert "Réessayez dans un instant" in page.text and "rechargez la page" in page.text
    english = await http.get("/?lang=en")
    assert english.status_code == 503 and "Try again in a moment" in english.text

    ready = await http.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable", "database": "down"})
    assert (await http.get("/healthz")).status_code == 200  # the process itself is up

    said = [r.getMessage() for r in caplog.records if r.name == "fabbooking"]
    assert [m for m in said if "unavailable" in m] == [said[0]] and "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]

    unreachable()  # the database is back: no restart needed
    assert (await http.get("/readyz")).json() == {"status": "ok", "database": "ok"}
    assert (await http.get("/api/v1/sites")).status_code == 200
    assert any("answers again" in r.getMessage() for r in caplog.records)
    watcher = outage.OUTAGE._watcher
    if watcher is not None:
        await asyncio.wait_for(watcher, timeout=10)


async def test_a_refused_connection_to_postgresql_is_an_outage():
    import asyncpg

    with pytest.raises(OSError) as refused:
        await asyncpg.connect(f"postgresql://nobody@127.0.0.1:{free_port()}/none", timeout=5)
    assert outage.is_database_unavailable(refused.value)


def test_other_failures_stay_errors():
    def save_photo() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as disk_full:
        save_photo()
    assert not outage.is_database_unavailable(disk_full.value)
    assert not outage.is_database_unavailable(ValueError("bad"))
    assert not outage.is_database_unavailable(sqlite3.OperationalError("no such column: nickname"))


def test_sqlite_lock_and_file_failures_are_an_outage():
    for said in ("unable to open database file", "database is locked",
                 "attempt to write a readonly database", "disk I/O error"):
        assert outage.is_database_unavailable(sqlite3.OperationalError(said)), said


def test_the_timeout_setting_is_checked(monkeypatch):
    monkeypatch.delenv("FABBOOKING_DB_TIMEOUT_S", raising=False)
    assert db_timeout_s() == 5
    monkeypatch.setenv("FABBOOKING_DB_TIMEOUT_S", "2.5")
    assert db_timeout_s() == 2.5
    for wrong in ("soon", "0", "-3", "1000"):
        monkeypatch.setenv("FABBOOKING_DB_TIMEOUT_S", wrong)
        with pytest.raises(ConfigError, match="FABBOOKING_DB_TIMEOUT_S.*between 0.5 and 300"):
            db_timeout_s()


async def test_readyz_says_when_the_usage_listener_is_not_connected(client, monkeypatch):
    from fabbooking import app as app_module

    class Listener:
        connected = asyncio.Event()

    monkeypatch.setattr(app_module._usage, "listener", Listener())
    answer = await client.get("/readyz")
    assert (answer.status_code, answer.json()) == (
        503, {"status": "unavailable", "database": "ok", "listener": "down"})
    Listener.connected.set()
    answer = await client.get("/readyz")
    assert (answer.status_code, answer.json()) == (
        200, {"status": "ok", "database": "ok", "listener": "ok"})


def test_the_pool_size_setting_is_checked(monkeypatch):
    from fabbooking.settings import db_pool_size

    monkeypatch.delenv("FABBOOKING_DB_POOL_SIZE", raising=False)
    assert db_pool_size() == 10
    monkeypatch.setenv("FABBOOKING_DB_POOL_SIZE", " 4 ")
    assert db_pool_size() == 4
    for wrong in ("many", "0", "-3", "2.5", "1000"):
        monkeypatch.setenv("FABBOOKING_DB_POOL_SIZE", wrong)
        with pytest.raises(ConfigError, match="FABBOOKING_DB_POOL_SIZE.*between 1 and 100"):
            db_pool_size()
    monkeypatch.setenv("FABBOOKING_DB_POOL_SIZE", "²")  # a digit to str.isdigit, not to int
    with pytest.raises(ConfigError, match="FABBOOKING_DB_POOL_SIZE"):
        db_pool_size()


async def test_the_web_process_opens_its_pool_of_the_size_set(monkeypatch):
    from fabbooking import app as web
    from fabbooking import database

    opened = []

    async def start_serving_pool(max_size: int) -> None:
        opened.append(max_size)

    monkeypatch.setattr(database, "start_serving_pool", start_serving_pool)
    monkeypatch.setenv("FABBOOKING_DB_POOL_SIZE", "4")
    await web._open_pool()
    assert opened == [4]


@pytest.mark.postgres
async def test_a_pooled_postgres_connection_goes_back_without_a_reset_statement(postgres_database):
    """Giving a connection back to the pool sends nothing (asyncpg's default reset is one more
    round trip after every statement outside a transaction, and after every transaction), and
    a transaction left open is still rolled back before the connection serves again."""
    import asyncpg

    engine = database.build_engine(parse_database_url(postgres_database))
    await engine.start_connection_pool(min_size=1, max_size=1)
    watcher = await asyncpg.connect(postgres_database)
    try:
        pid = (await engine._run_in_pool("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        last = await watcher.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
        assert last == "SELECT pg_backend_pid() AS pid"  # not asyncpg's « SELECT pg_advisory_unlock_all(); … »
        connection = await engine.pool.acquire()
        await connection.execute("BEGIN; CREATE TEMPORARY TABLE left_open (x int)")
        await engine.pool.release(connection)
        rows = await engine._run_in_pool("SELECT to_regclass('pg_temp.left_open') IS NULL AS gone")
        assert rows[0]["gone"]  # the open transaction, and the table it made, were rolled back
    finally:
        await watcher.close()
        await engine.close_connection_pool()


@pytest.mark.postgres
async def test_locks_sent_with_begin_hold_until_the_end_and_fail_cleanly(postgres_database):
    """A transaction that takes its locks with its BEGIN (postgres_engine.begin_with, as a
    booking does) holds them until it commits or rolls back, takes them inside a transaction
    already open, rolls back on an error, and leaves its connection clean when a lock fails."""
    import asyncpg

    engine = database.build_engine(parse_database_url(postgres_database))
    await engine.start_connection_pool(min_size=1, max_size=1)
    other = await asyncpg.connect(postgres_database)
    taken = "SELECT pg_try_advisory_xact_lock(730642, -7)"
    # asyncpg rolls back what is left open when a connection goes back, and says so here:
    # the transaction must have ended itself before
    left_open: list[str] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: left_open.append(context["message"]))
    try:
        async with engine.transaction(begin_with="SELECT pg_advisory_xact_lock(730642, -7)") as held:
            assert await other.fetchval(taken) is False
            await held.connection.execute("CREATE TEMPORARY TABLE kept_or_not (x int)")
        assert await other.fetchval(taken) is True
        with pytest.raises(RuntimeError):
            async with engine.transaction(begin_with="SELECT pg_advisory_xact_lock(730642, -7)") as held:
                await held.connection.execute("CREATE TEMPORARY TABLE rolled_back (x int)")
                raise RuntimeError("the booking is refused")
        async with engine.transaction():
            async with engine.transaction(begin_with="SELECT pg_advisory_xact_lock(730642, -7)"):
                assert await other.fetchval(taken) is False
        assert await other.fetchval(taken) is True
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with engine.transaction(begin_with="SELECT 1 / 0"):
                pass  # pragma: no cover
        rows = await engine._run_in_pool("SELECT to_regclass('pg_temp.kept_or_not') IS NOT NULL AS kept, "
                                         "to_regclass('pg_temp.rolled_back') IS NULL AS gone")
        assert [dict(r) for r in rows] == [{"kept": True, "gone": True}]  # and the one connection works: no aborted transaction
        assert left_open == []
    finally:
        asyncio.get_running_loop().set_exception_handler(None)
        await other.close()
        await engine.close_connection_pool()
