"""Logins that hold: hashing off the event loop, a throttle that cannot be raced."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest

from fabbooking.accounts import passwords, throttle
from fabbooking.accounts.tables import LoginFailure
from tests.conftest import PASSWORD
from tests.web_helpers import browser_login, csrf, submit

pytestmark = pytest.mark.anyio

GATE_TIMEOUT_S = 20  # only so that a broken build fails instead of hanging


async def wait_for(condition, timeout: float = GATE_TIMEOUT_S) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


async def test_health_check_is_answered_while_eight_wrong_logins_are_being_hashed(client, world, monkeypatch):
    hashing = threading.Semaphore(0)
    release = threading.Event()
    released_in_time: list[bool] = []
    real_hash = passwords._hash

    def held_hash(*args):
        hashing.release()
        # On the event loop this would freeze the whole app; in a worker thread only this login waits.
        released_in_time.append(release.wait(GATE_TIMEOUT_S))
        return real_hash(*args)

    monkeypatch.setattr(passwords, "_hash", held_hash)
    answers: list[int] = []

    async def wrong_login(n: int) -> None:
        response = await client.post("/api/v1/auth/token",
                                     json={"username": f"maker{n}", "password": "wrong-guess"})
        answers.append(response.status_code)

    async with anyio.create_task_group() as logins:
        for n in range(8):
            logins.start_soon(wrong_login, n)
        for _ in range(8):
            await wait_for(lambda: hashing.acquire(blocking=False))
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert answers == []  # all eight are still being checked
        release.set()
    assert released_in_time == [True] * 8
    assert answers == [401] * 8


# --- the throttle ----------------------------------------------------------------------

def client_from(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def count_hashes(monkeypatch) -> list[int]:
    calls: list[int] = []
    real_hash = passwords._hash

    def counted(*args):
        calls.append(1)
        return real_hash(*args)

    monkeypatch.setattr(passwords, "_hash", counted)
    return calls


def test_the_wait_doubles_after_the_free_tries_up_to_a_ceiling():
    limit = throttle.PER_ACCOUNT_AND_ADDRESS
    waits = [throttle.delay_after(n, limit) for n in range(limit.free + 8)]
    assert waits[: limit.free] == [timedelta(0)] * limit.free
    assert waits[limit.free: limit.free + 3] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert waits[-1] == throttle.LONGEST_DELAY


def test_ipv6_clients_are_counted_by_their_network():
    assert throttle.address_key("2001:db8:1:2::5") == throttle.address_key("2001:db8:1:2:ffff::1")
    assert throttle.address_key("2001:db8:1:3::5") != throttle.address_key("2001:db8:1:2::5")
    assert throttle.address_key("::ffff:192.0.2.7") == "192.0.2.7"


async def test_twenty_simultaneous_wrong_passwords_check_only_five(client, world, monkeypatch):
    hashes = count_hashes(monkeypatch)
    answers = []

    async def guess(n: int) -> None:
        answers.append(await client.post("/api/v1/auth/token",
                                          json={"username": "maker", "password": f"guess-{n}"}))

    async with anyio.create_task_group() as guesses:
        for n in range(20):
            guesses.start_soon(guess, n)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 15
    assert len(hashes) == 5
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["code"] == "too_many_attempts"
    assert 0 < int(refused.headers["retry-after"]) <= 30
    assert "Réessayez dans 1 min" in refused.json()["detail"]


async def test_guesses_from_one_address_do_not_lock_the_owner_out_elsewhere(client, world, app):
    for _ in range(5):
        await client.post("/api/v1/auth/token", json={"username": "maker", "password": "bad-guess"})
    same_address = await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD},
                                     headers={"Accept-Language": "en"})
    assert same_address.status_code == 429
    assert "Try again in 1 min" in same_address.json()["detail"]
    async with client_from(app, "192.0.2.44") as at_home:
        assert (await at_home.post("/api/v1/auth/login",
                                   json={"username": "maker", "password": PASSWORD})).status_code == 200


async def test_after_the_wait_the_right_password_works_and_clears_the_failures(client, world):
    for _ in range(6):
        await client.post("/api/v1/auth/token", json={"username": "maker", "password": "bad-guess"})
    assert await LoginFailure.count() == 5  # the sixth was refused before being checked
    await LoginFailure.update({LoginFailure.at: datetime.now(UTC) - timedelta(seconds=31)}).where(
        LoginFailure.username == "maker")
    assert (await client.post("/api/v1/auth/token",
                              json={"username": "maker", "password": PASSWORD})).status_code == 201
    assert await LoginFailure.count() == 0


async def test_one_address_guessing_many_usernames_is_slowed_but_not_others(client, world, app):
    just_now = datetime.now(UTC) - timedelta(seconds=5)
    await LoginFailure.insert(*[LoginFailure(username=f"someone{n}", client="127.0.0.1", at=just_now)
                                for n in range(throttle.PER_ADDRESS.free)])
    slowed = await client.post("/login", data={"username": "newbie", "password": PASSWORD,
                                                "_csrf_token": await csrf(client, "/login")})
    assert slowed.status_code == 429
    assert "Réessayez dans" in slowed.text and slowed.headers["retry-after"]
    async with client_from(app, "192.0.2.45") as elsewhere:
        assert (await elsewhere.post("/api/v1/auth/token",
                                     json={"username": "newbie", "password": PASSWORD})).status_code == 201


async def test_guessing_the_current_password_on_my_account_page_is_throttled_too(client, world):
    await browser_login(client, "maker")
    for _ in range(5):
        wrong = await submit(client, "/me/account/password",
                             {"current": "bad-guess", "new": "nouveau-123", "again": "nouveau-123"})
        assert wrong.status_code == 401
    right = await submit(client, "/me/account/password",
                         {"current": PASSWORD, "new": "nouveau-123", "again": "nouveau-123"})
    assert right.status_code == 429 and right.headers["retry-after"]
    assert "Réessayez dans" in right.text


async def test_a_deactivated_account_does_not_log_in_even_with_its_password(client, world):
    from fabbooking.accounts.tables import Account

    await Account.update({Account.active: False}).where(Account.id == world.ids["maker"])
    response = await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD})
    assert response.status_code == 401 and response.json()["code"] == "bad_credentials"
    assert "fabbooking_session" not in response.cookies
