"""Logins that hold: hashing off the event loop, a throttle that cannot be raced."""

from __future__ import annotations

import threading

import anyio
import pytest

from fabbooking.accounts import passwords

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
