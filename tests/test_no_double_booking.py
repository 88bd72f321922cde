"""No double booking, ever: under concurrent requests from several server processes, and
at the database itself (PostgreSQL exclusion constraint, SQLite triggers)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fabbooking.accounts.services import issue_token
from fabbooking.bookings.tables import Booking
from fabbooking.training.tables import Training
from tests.conftest import (
    ROOT,
    free_port,
    local_slot,
    make_account,
    make_machine,
    make_site,
    qualify,
)

pytestmark = pytest.mark.anyio

SERVERS = 3
CONTENDERS = 60



async def wait_until_serving(base_url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited early: {process.stderr.read().decode()}")
            try:
                if (await http.get(f"{base_url}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base_url} did not answer within {timeout}s")


@pytest.fixture
async def servers(db):
    processes, urls = [], []
    env = {**os.environ, "FABBOOKING_DATABASE_URL": db.url}
    for _ in range(SERVERS):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "fabbooking", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, process in zip(urls, processes, strict=True):
            await wait_until_serving(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


async def test_concurrent_conflicting_requests_from_several_processes_one_wins(db, servers):
    site = await make_site("atelier")
    training = (await Training.insert(Training(slug="t", name="T", unlocks_kinds=["3d_printer"]))
                .returning(Training.id))[0]["id"]
    machine = await make_machine(site, "printer", training_id=training)
    tokens = []
    for n in range(CONTENDERS):
        maker = await make_account(f"maker{n}")
        await qualify(maker, training)
        tokens.append(await issue_token(maker))

    # Every request overlaps every other one: all contain 10:45–11:00 local.
    bodies = []
    for n in range(CONTENDERS):
        start, end = local_slot(3, ["10:00", "10:15", "10:30", "10:45"][n % 4], 60 + 15 * (n % 3))
        bodies.append({"machine_id": machine, "start": start, "end": end})

    async with httpx.AsyncClient(timeout=60) as http:
        # warm every connection first, so the bookings leave together
        await asyncio.gather(*[http.get(f"{url}/healthz") for url in servers])
        responses = await asyncio.gather(*[
            http.post(f"{servers[n % SERVERS]}/api/v1/bookings", json=bodies[n],
                      headers={"Authorization": f"Bearer {tokens[n]}"})
            for n in range(CONTENDERS)
        ])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: CONTENDERS - 1}, [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"overlap"}
    assert await Booking.count().where(Booking.status == "confirmed") == 1


async def test_concurrent_bookings_of_one_maker_on_several_machines_keep_to_the_quota(db, servers):
    """The site allows a maker three coming bookings: twenty-four requests of one maker at
    once, on eight machines of the site, from several processes, make exactly three. (Each
    booking locks its machine; the quota spans machines, so the maker is locked too.)"""
    site = await make_site("atelier")
    training = (await Training.insert(Training(slug="t", name="T", unlocks_kinds=["3d_printer"]))
                .returning(Training.id))[0]["id"]
    machines = [await make_machine(site, f"printer-{n}", training_id=training) for n in range(8)]
    maker = await make_account("maker")
    await qualify(maker, training)
    token = await issue_token(maker)
    bodies = []
    for n in range(24):
        start, end = local_slot(3, f"{10 + n // 8:02d}:00", 60)
        bodies.append({"machine_id": machines[n % 8], "start": start, "end": end})

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*[http.get(f"{url}/healthz") for url in servers])
        responses = await asyncio.gather(*[
            http.post(f"{servers[n % SERVERS]}/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"})
            for n, body in enumerate(bodies)
        ])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 3, 422: 21}, [r.text for r in responses if r.status_code != 422]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"too_many_bookings"}
    assert await Booking.count().where(Booking.status == "confirmed") == 3


async def test_concurrent_bookings_back_to_back_keep_the_machines_buffer(db, servers):
    """A machine that needs 15 minutes between bookings: forty makers at once, half asking
    10:00–11:00, half 11:00–12:00, from several processes, make exactly one booking (the
    database itself allows back-to-back bookings; only the machine's lock keeps the buffer)."""
    site = await make_site("atelier")
    training = (await Training.insert(Training(slug="t", name="T", unlocks_kinds=["3d_printer"]))
                .returning(Training.id))[0]["id"]
    machine = await make_machine(site, "printer", training_id=training, buffer_minutes=15)
    tokens = []
    for n in range(40):
        maker = await make_account(f"maker{n}")
        await qualify(maker, training)
        tokens.append(await issue_token(maker))
    slots = [local_slot(3, "10:00", 60), local_slot(3, "11:00", 60)]

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*[http.get(f"{url}/healthz") for url in servers])
        responses = await asyncio.gather(*[
            http.post(f"{servers[n % SERVERS]}/api/v1/bookings",
                      json={"machine_id": machine, "start": slots[n % 2][0], "end": slots[n % 2][1]},
                      headers={"Authorization": f"Bearer {token}"})
            for n, token in enumerate(tokens)
        ])

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 39}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {"overlap", "too_close"}
    assert await Booking.count().where(Booking.status == "confirmed") == 1


async def test_database_itself_refuses_overlapping_bookings(db):
    """Even code that skips the booking service cannot store two overlapping bookings."""
    site = await make_site("atelier")
    machine = await make_machine(site, "printer")
    maker = await make_account("maker")
    start = datetime(2031, 5, 6, 8, 0, tzinfo=UTC)
    await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker,
                                 start_at=start, end_at=start + timedelta(hours=2)))
    with pytest.raises(Exception) as refused:
        await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker,
                                     start_at=start + timedelta(hours=1),
                                     end_at=start + timedelta(hours=3)))
    assert "overlap" in str(refused.value) or type(refused.value).__name__ == "ExclusionViolationError"
    # cancelled bookings free the time; back-to-back ones never overlap
    await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker, status="cancelled",
                                 start_at=start, end_at=start + timedelta(hours=2)))
    await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker,
                                 start_at=start + timedelta(hours=2), end_at=start + timedelta(hours=3)))
    other = await make_machine(site, "other")
    await Booking.insert(Booking(machine=other, maker=maker, booked_by=maker,
                                 start_at=start, end_at=start + timedelta(hours=2)))
    assert await Booking.count() == 4


async def test_database_refuses_a_booking_that_ends_before_it_starts(db):
    site = await make_site("atelier")
    machine = await make_machine(site, "printer")
    maker = await make_account("maker")
    start = datetime(2031, 5, 6, 8, 0, tzinfo=UTC)
    with pytest.raises(Exception) as refused:
        await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker,
                                     start_at=start, end_at=start))
    assert "booking_ends_after_start" in str(refused.value)
    assert await Booking.count() == 0


async def test_reactivating_a_cancelled_booking_over_a_taken_slot_is_refused(db):
    site = await make_site("atelier")
    machine = await make_machine(site, "printer")
    maker = await make_account("maker")
    start = datetime(2031, 5, 6, 8, 0, tzinfo=UTC)
    rows = await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker, status="cancelled",
                                        start_at=start, end_at=start + timedelta(hours=2))).returning(Booking.id)
    await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker,
                                 start_at=start, end_at=start + timedelta(hours=2)))
    with pytest.raises(Exception) as refused:
        await Booking.update({Booking.status: "confirmed"}).where(Booking.id == rows[0]["id"])
    assert "booking_no_overlap" in str(refused.value)
    assert await Booking.count().where(Booking.status == "confirmed") == 1
