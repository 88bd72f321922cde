"""When PostgreSQL goes away under a running server: people get 503 « try again », never 500;
/readyz says the database is down and recovers when it is back; no request hangs past the
timeout, even on a frozen server; a POST retried with its Idempotency-Key makes one booking.

Runs against a private cluster (tests/private_postgres.py) that the test may stop and freeze
without disturbing the shared server. Without initdb it skips — except under CI=true.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine

from fabbooking import database
from fabbooking.accounts.services import issue_token
from tests.conftest import ROOT, free_port, local_slot, make_account, make_machine, make_site, missing_service, run_cli
from tests.private_postgres import PrivatePostgres, postgres_bin

TIMEOUT_S = 2
# the longest a request may take while the database is away: the timeout and the client-side
# backstop (one more second; a dead connection is then cut, not reset), with as much slack
BOUND_S = 2 * TIMEOUT_S + 2
CLIENTS = 6


@pytest.fixture
def cluster():
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing_service("initdb is not installed (apt-get install postgresql)")
    server = PrivatePostgres(bin_dir, free_port())
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
async def serving(cluster: PrivatePostgres, tmp_path: Path):
    run_cli("migrate", url=cluster.url)
    log = tmp_path / "serve.log"
    port = free_port()
    env = {**os.environ, "FABBOOKING_DATABASE_URL": cluster.url, "FABBOOKING_DB_TIMEOUT_S": str(TIMEOUT_S)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "fabbooking", "serve", "--port", str(port), "--no-listener"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await poll(lambda: ready(base), "the server to be ready", process)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=30)


async def ready(base: str) -> bool:
    async with httpx.AsyncClient(timeout=BOUND_S) as http:
        try:
            return (await http.get(f"{base}/readyz")).status_code == 200
        except httpx.TransportError:
            return False


async def poll(check, what: str, process: subprocess.Popen | None = None, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server stopped while waiting for {what}")
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {within} s for {what}")


@pytest.fixture
async def people(cluster: PrivatePostgres, serving):
    """An animator of « atelier » (books without quota) and three machines, made through an
    engine of the test's own; the app's tables are pointed back where they were afterwards."""
    before = database.DB
    engine = PostgresEngine(config={"dsn": cluster.url})
    database.use_engine(engine)
    try:
        site = await make_site("atelier")
        machines = [await make_machine(site, f"printer-{n}") for n in range(3)]
        animator = await make_account("animator", "animator", (site,))
        yield {"token": await issue_token(animator), "machines": machines}
    finally:
        database.use_engine(before)


def slots(machines: list[int]):
    """Every free hour of the coming days, on every machine, never the same twice."""
    for days, hour, machine in itertools.product(range(1, 25), range(8, 20), machines):
        start, end = local_slot(days, f"{hour:02d}:00", 60)
        yield {"machine_id": machine, "start": start, "end": end}


async def book_until(stop: asyncio.Event, base: str, token: str, bodies, statuses: list[int]) -> None:
    """One client booking, one request after another, each retried with its key until it is
    answered; every answer's status is kept."""
    async with httpx.AsyncClient(timeout=BOUND_S) as http:
        while not stop.is_set():
            body, key = next(bodies), str(uuid.uuid4())
            while True:
                answer = await http.post(f"{base}/api/v1/bookings", json=body, headers={
                    "Authorization": f"Bearer {token}", "Idempotency-Key": key})
                statuses.append(answer.status_code)
                if answer.status_code == 503:
                    assert answer.json()["code"] == "unavailable"
                    assert int(answer.headers["retry-after"]) > 0
                if answer.status_code != 503 or stop.is_set():
                    break
                await asyncio.sleep(0.1)


async def count_bookings(url: str) -> int:
    engine = PostgresEngine(config={"dsn": url})
    rows = await engine._run_in_new_connection("SELECT count(*) AS n FROM booking")
    return rows[0]["n"]


async def test_a_stopped_then_frozen_database_is_503_then_recovers(cluster, serving, people):
    base, log = serving
    bodies = slots(people["machines"])
    statuses: list[int] = []
    stop = asyncio.Event()
    clients = [asyncio.create_task(book_until(stop, base, people["token"], bodies, statuses))
               for _ in range(CLIENTS)]

    await poll(lambda: asyncio.sleep(0, len(statuses) >= 20), "the first bookings")
    cluster.stop("fast")
    seen = len(statuses)
    await poll(lambda: asyncio.sleep(0, statuses[seen:].count(503) >= 10), "503s while stopped")
    async with httpx.AsyncClient(timeout=BOUND_S) as http:
        answer = await http.get(f"{base}/readyz")
        assert (answer.status_code, answer.json()) == (503, {"status": "unavailable", "database": "down"})
        page = await http.get(f"{base}/machines/{people['machines'][0]}", headers={"Accept-Language": "fr"})
        assert page.status_code == 503 and "Réessayez dans un instant" in page.text

    cluster.start()
    await poll(lambda: ready(base), "/readyz to recover after a restart")
    seen = len(statuses)
    await poll(lambda: asyncio.sleep(0, statuses[seen:].count(201) >= 10), "bookings after the restart")

    cluster.freeze()
    try:
        seen = len(statuses)
        # every request now waits for a database that never answers: each is answered 503
        # within BOUND_S (the clients' own timeout would fail the test otherwise)
        await poll(lambda: asyncio.sleep(0, statuses[seen:].count(503) >= 2 * CLIENTS),
                   "503s while frozen")
        assert not await ready(base)
    finally:
        cluster.thaw()
    await poll(lambda: ready(base), "/readyz to recover after a freeze")
    seen = len(statuses)
    await poll(lambda: asyncio.sleep(0, statuses[seen:].count(201) >= 10), "bookings after the freeze")
    stop.set()
    await asyncio.gather(*clients)

    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    # each booking was retried with its key until answered: one row per 201, none more
    assert await count_bookings(cluster.url) == statuses.count(201)
    text = log.read_text()
    assert "Traceback" not in text
    outages = text.count("the database is unavailable")
    assert 2 <= outages == text.count("the database answers again"), text[-3000:]
    assert outages < statuses.count(503) / 4
