"""A changed password ends the other sessions; API tokens are listed, revoked, may expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fabbooking.accounts.services import issue_token
from fabbooking.accounts.tables import ApiToken
from tests.conftest import PASSWORD
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio
NEW = "nouveau-mot-2"


def another_device(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def can_log_in(client, password: str) -> bool:
    response = await client.post("/api/v1/auth/token", json={"username": "maker", "password": password})
    return response.status_code == 201


async def test_changing_my_password_in_the_api_logs_out_my_other_devices(client, world, app):
    await browser_login(client, "maker")
    async with another_device(app) as phone:
        await browser_login(phone, "maker")
        changed = await client.post("/api/v1/users/me/password", json={"current": PASSWORD, "new": NEW})
        assert changed.status_code == 204, changed.text
        assert (await phone.get("/api/v1/users/me")).status_code == 401
    assert (await client.get("/api/v1/users/me")).status_code == 200  # the device that changed it
    assert await can_log_in(client, NEW) and not await can_log_in(client, PASSWORD)


async def test_changing_my_password_needs_the_current_one(client, world):
    wrong = await client.post("/api/v1/users/me/password", json={"current": "not-it", "new": NEW},
                              headers=world.auth("maker"))
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad_credentials"
    assert await can_log_in(client, PASSWORD)


async def test_guessing_the_current_password_in_the_api_is_slowed_down(client, world):
    for _ in range(5):
        await client.post("/api/v1/users/me/password", json={"current": "not-it", "new": NEW},
                          headers=world.auth("maker"))
    right = await client.post("/api/v1/users/me/password", json={"current": PASSWORD, "new": NEW},
                              headers=world.auth("maker"))
    assert right.status_code == 429 and right.headers["retry-after"]


async def test_changing_my_password_on_my_account_page_logs_out_my_other_devices(client, world, app):
    await browser_login(client, "maker")
    async with another_device(app) as phone:
        await browser_login(phone, "maker")
        changed = await submit(client, "/me/account/password", {"current": PASSWORD, "new": NEW, "again": NEW},
                               page="/me/account")
        assert changed.status_code == 303
        assert (await phone.get("/me/account")).status_code in (302, 303)  # back to the login page
    page = await client.get(changed.headers["location"])
    assert page.status_code == 200 and "autres appareils" in page.text


async def test_i_list_and_revoke_my_tokens_and_a_revoked_token_opens_nothing(client, world):
    created = await client.post("/api/v1/auth/token", json={"username": "maker", "password": PASSWORD,
                                                            "label": "imprimante du salon"})
    token = created.json()
    mine = await client.get("/api/v1/auth/tokens", headers=world.auth("maker"))
    assert mine.status_code == 200
    assert [t["label"] for t in mine.json()] == ["imprimante du salon", ""]
    assert token["token"] not in mine.text and "digest" not in mine.text
    revoked = await client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=world.auth("maker"))
    assert revoked.status_code == 204
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.status_code == 401


async def test_nobody_else_sees_or_revokes_my_tokens_but_a_network_admin(client, world):
    [maker_token] = await ApiToken.select(ApiToken.id).where(ApiToken.account == world.ids["maker"])
    peek = await client.get(f"/api/v1/auth/tokens?account_id={world.ids['maker']}", headers=world.auth("animator"))
    assert peek.status_code == 403
    steal = await client.delete(f"/api/v1/auth/tokens/{maker_token['id']}", headers=world.auth("newbie"))
    assert steal.status_code == 404
    assert (await client.get("/api/v1/users/me", headers=world.auth("maker"))).status_code == 200
    seen = await client.get(f"/api/v1/auth/tokens?account_id={world.ids['maker']}", headers=world.auth("admin"))
    assert [t["id"] for t in seen.json()] == [maker_token["id"]]
    assert (await client.delete(f"/api/v1/auth/tokens/{maker_token['id']}",
                                headers=world.auth("admin"))).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=world.auth("maker"))).status_code == 401


async def test_a_token_may_carry_an_expiry_and_an_expired_token_opens_nothing(client, world):
    created = await client.post("/api/v1/auth/token", json={"username": "maker", "password": PASSWORD,
                                                            "expires_in_days": 30})
    expires_at = datetime.fromisoformat(created.json()["expires_at"])
    assert timedelta(days=29) < expires_at - datetime.now(UTC) <= timedelta(days=30)
    fresh = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await client.get("/api/v1/users/me", headers=fresh)).status_code == 200
    expired = await issue_token(world.ids["maker"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    answer = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401 and answer.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("days", [0, -3, 100_000, "soon"])
async def test_an_impossible_expiry_is_refused(client, world, days):
    response = await client.post("/api/v1/auth/token", json={"username": "maker", "password": PASSWORD,
                                                             "expires_in_days": days})
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"
    assert await ApiToken.count() == 5  # the world's own
