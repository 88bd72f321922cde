"""Accounts through the API: tokens, sessions, login throttling, accounts made at the desk."""

from __future__ import annotations

import httpx
import pytest

from fabbooking.accounts.tables import Account, LoginFailure
from fabbooking.app import create_app
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


async def test_token_from_username_and_password_opens_the_api(client, world):
    response = await client.post("/api/v1/auth/token", json={"username": "maker", "password": PASSWORD})
    assert response.status_code == 201
    token = response.json()["token"]
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "maker"
    assert [q["training_slug"] for q in me.json()["qualifications"]] == ["impression-3d"]


async def test_username_is_not_case_sensitive_at_login(client, world):
    response = await client.post("/api/v1/auth/token", json={"username": " Maker ", "password": PASSWORD})
    assert response.status_code == 201


async def test_wrong_password_is_refused_in_plain_words(client, world):
    response = await client.post("/api/v1/auth/token", json={"username": "maker", "password": "nope-nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    assert "mot de passe" in response.json()["detail"]


async def test_login_attempts_are_throttled_per_username(client, world):
    for _ in range(5):
        response = await client.post("/api/v1/auth/token", json={"username": "maker", "password": "bad-guess"})
        assert response.status_code == 401
    blocked = await client.post("/api/v1/auth/token", json={"username": "maker", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert await LoginFailure.count().where(LoginFailure.username == "maker") == 5
    # another person, from the same address, is not locked out by someone guessing "maker"'s password
    other = await client.post("/api/v1/auth/token", json={"username": "newbie", "password": PASSWORD})
    assert other.status_code == 201


async def test_browser_session_is_stored_in_the_database_and_survives_a_restart(client, world, db):
    response = await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    session = response.cookies["fabbooking_session"]
    # a brand-new app (another process, or after a restart) knows the session
    transport = httpx.ASGITransport(app=create_app(use_pool=False, run_usage=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
        fresh.cookies.set("fabbooking_session", session)
        me = await fresh.get("/api/v1/users/me")
        assert me.status_code == 200 and me.json()["username"] == "maker"
        await fresh.post("/api/v1/auth/logout")
        fresh.cookies.set("fabbooking_session", session)
        assert (await fresh.get("/api/v1/users/me")).status_code == 401


async def test_animator_creates_a_maker_without_email_at_the_desk(client, world):
    response = await client.post("/api/v1/users", headers=world.auth("animator"),
                                 json={"username": "Fatou", "password": "velo-rouge",
                                       "display_name": "Fatou D."})
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "maker" and response.json()["email"] is None
    account = await Account.objects().get(Account.username == "fatou")
    assert account.created_by == world.ids["animator"]
    login = await client.post("/api/v1/auth/token", json={"username": "fatou", "password": "velo-rouge"})
    assert login.status_code == 201


async def test_animator_cannot_create_an_admin_and_a_maker_cannot_create_anyone(client, world):
    admin = await client.post("/api/v1/users", headers=world.auth("animator"),
                              json={"username": "boss", "password": "secret123", "role": "admin"})
    assert admin.status_code == 403
    maker = await client.post("/api/v1/users", headers=world.auth("maker"),
                              json={"username": "friend", "password": "secret123"})
    assert maker.status_code == 403
    assert await Account.count().where(Account.username.is_in(["boss", "friend"])) == 0


async def test_admin_creates_an_animator_for_a_site(client, world):
    response = await client.post("/api/v1/users", headers=world.auth("admin"),
                                 json={"username": "erwan", "password": "secret123",
                                       "role": "animator", "sites": ["atelier"]})
    assert response.status_code == 201
    assert response.json()["staff_of"] == ["atelier"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "maker", "password": "secret123"}, 409, "username_taken"),
        ({"username": "x y", "password": "secret123"}, 422, "invalid_username"),
        ({"username": "short", "password": "123"}, 422, "password_too_short"),
        ({"username": "site", "password": "secret123", "sites": ["nowhere"]}, 404, "not_found"),
    ],
)
async def test_account_creation_refusals_are_clear_and_write_nothing(client, world, body, status, code):
    before = await Account.count()
    response = await client.post("/api/v1/users", headers=world.auth("admin"), json=body)
    assert response.status_code == status and response.json()["code"] == code
    assert await Account.count() == before


async def test_two_accounts_without_email_can_coexist(client, world):
    for name in ("ana", "bob"):
        response = await client.post("/api/v1/users", headers=world.auth("animator"),
                                     json={"username": name, "password": "secret123"})
        assert response.status_code == 201


async def test_desk_searches_people_by_name_but_makers_cannot(client, world):
    found = await client.get("/api/v1/users?q=newb", headers=world.auth("animator"))
    assert [a["username"] for a in found.json()] == ["newbie"]
    refused = await client.get("/api/v1/users?q=a", headers=world.auth("maker"))
    assert refused.status_code == 403


async def test_animators_find_makers_without_their_email_and_admins_find_everybody(client, world):
    await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])
    found = await client.get("/api/v1/users?q=", headers=world.auth("animator"))
    assert [a["username"] for a in found.json()] == ["maker", "newbie"]
    assert all(a["email"] is None for a in found.json()) and "maker@example.org" not in found.text
    assert (await client.get("/api/v1/users?q=admin", headers=world.auth("animator"))).json() == []
    everybody = await client.get("/api/v1/users?q=", headers=world.auth("admin"))
    people = {a["username"]: a for a in everybody.json()}
    assert list(people) == ["admin", "animator", "maker", "newbie", "stranger"]
    assert people["maker"]["email"] == "maker@example.org"


async def test_people_found_together_each_keep_their_own_sites_and_trainings(client, world):
    found = await client.get("/api/v1/users?q=", headers=world.auth("admin"))
    people = {a["username"]: a for a in found.json()}
    assert list(people) == ["admin", "animator", "maker", "newbie", "stranger"]
    assert people["animator"]["staff_of"] == ["atelier"]
    assert people["stranger"]["staff_of"] == ["ailleurs"]
    assert people["maker"]["staff_of"] == []
    assert [q["training_slug"] for q in people["maker"]["qualifications"]] == ["impression-3d"]
    assert people["newbie"]["qualifications"] == []


async def test_me_needs_login(client, world):
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
