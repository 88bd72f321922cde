"""Signing up online: a maker account made by the person, e-mail optional, the network's
rules accepted, the same username rules as at the desk, and a limit per address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.accounts import address_limit
from fabbooking.accounts.tables import Account, AddressTry
from fabbooking.training.tables import Qualification
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio


def body(username: str = "nadia", **extra) -> dict:
    return {"username": username, "password": "bonjour123", "accept_rules": True, **extra}


async def test_signing_up_makes_a_logged_in_maker_without_training_or_email(client, world):
    response = await client.post("/api/v1/auth/signup", json=body("Nadia", language="en"))
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["username"], made["role"], made["email"], made["language"]) == ("nadia", "maker", None, "en")
    assert made["qualifications"] == []
    me = await client.get("/api/v1/users/me")  # the session cookie of the sign-up
    assert me.status_code == 200 and me.json()["username"] == "nadia"
    assert not await Qualification.exists().where(Qualification.account == made["id"])


async def test_the_signup_page_creates_the_account_and_lands_on_my_account(client, world):
    page = await client.get("/signup")
    assert page.status_code == 200 and "règles du réseau" in page.text
    response = await submit(client, "/signup", {"username": "Soizic", "password": "bonjour123", "again": "bonjour123",
                                                "email": "Soizic@Example.org", "language": "fr", "rules": "yes"},
                            page="/signup")
    assert response.status_code == 303 and response.headers["location"] == "/me/account?done=welcome"
    account = await client.get(response.headers["location"])
    assert "Votre compte est créé" in account.text and "soizic@example.org" in account.text


async def test_login_page_and_header_link_to_signup_for_visitors(client, world):
    login = await client.get("/login")
    assert 'href="/signup"' in login.text and 'href="/password/forgotten"' in login.text
    home = await client.get("/")
    assert 'href="/signup"' in home.text


@pytest.mark.parametrize(("change", "status", "code", "words"), [
    ({"username": "maker"}, 409, "username_taken", "déjà pris"),
    ({"username": "ｍａｋｅｒ"}, 409, "username_taken", "déjà pris"),  # full-width: the same name
    ({"username": "mаker"}, 409, "username_look_alike", "ressemble"),  # Cyrillic а
    ({"password": "abc"}, 422, "password_too_short", "au moins"),
    ({"email": "nadia@exemple"}, 422, "invalid_email", "nom@exemple.fr"),
    ({"email": "nadia exemple.fr"}, 422, "invalid_email", "pas complète"),
    ({"accept_rules": False}, 422, "rules_not_accepted", "règles du réseau"),
    ({"username": "a b"}, 422, "invalid_username", "pas d'espace"),
])
async def test_a_refused_signup_says_why_and_writes_nothing(client, world, change, status, code, words):
    before = await Account.count()
    response = await client.post("/api/v1/auth/signup", json={**body(), **change})
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and words in response.json()["detail"]
    assert await Account.count() == before
    assert not await AddressTry.exists()  # a refused sign-up does not use the address's allowance
    assert "fabbooking_session" not in response.cookies


async def test_an_email_already_used_is_refused(client, world):
    await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])
    response = await client.post("/api/v1/auth/signup", json=body(email="Maker@example.org"))
    assert response.status_code == 409 and response.json()["code"] == "email_taken"


async def test_the_signup_page_shows_a_refusal_and_keeps_what_was_typed(client, world):
    response = await submit(client, "/signup", {"username": "maker", "password": "bonjour123", "again": "bonjour123",
                                                "email": "x@example.org", "rules": "yes"}, page="/signup")
    assert response.status_code == 409
    assert "déjà pris" in response.text and 'value="x@example.org"' in response.text
    unequal = await submit(client, "/signup", {"username": "nadia", "password": "bonjour123", "again": "bonjour124",
                                               "rules": "yes"}, page="/signup")
    assert unequal.status_code == 422 and "pas identiques" in unequal.text
    assert not await Account.exists().where(Account.username == "nadia")


async def test_too_many_signups_from_one_address_are_told_when_to_come_back(client, world):
    for n in range(address_limit.SIGNUPS.free_per_hour):
        assert (await client.post("/api/v1/auth/signup", json=body(f"personne{n}"))).status_code == 201
        client.cookies.clear()
    response = await client.post("/api/v1/auth/signup", json=body("encore"), headers={"Accept-Language": "en"})
    assert response.status_code == 429 and response.json()["code"] == "too_many_signups"
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many accounts were created from this connection" in response.json()["detail"]
    assert "ask the team" in response.json()["detail"]
    assert not await Account.exists().where(Account.username == "encore")
    page = await submit(client, "/signup", {"username": "encore", "password": "bonjour123", "again": "bonjour123",
                                            "rules": "yes"}, page="/signup")
    assert page.status_code == 429 and "Trop de comptes" in page.text and page.headers["Retry-After"]


async def test_an_address_makes_at_most_so_many_accounts_a_day(client, world):
    now = datetime.now(UTC)
    await AddressTry.insert(*[AddressTry(kind="signup", client="127.0.0.1", at=now - timedelta(hours=2 + n))
                              for n in range(address_limit.SIGNUPS.per_day)])
    response = await client.post("/api/v1/auth/signup", json=body())
    assert response.status_code == 429
    oldest = now - timedelta(hours=1 + address_limit.SIGNUPS.per_day)
    expected = (oldest + timedelta(days=1) - now).total_seconds()
    assert abs(int(response.headers["Retry-After"]) - expected) < 120


def test_the_limit_is_a_few_an_hour_then_waits_and_at_most_so_many_a_day():
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    limit = address_limit.SIGNUPS
    few = [now - timedelta(minutes=10 * (n + 1)) for n in range(limit.free_per_hour - 1)]
    assert address_limit.wait_needed(few, now, limit) == timedelta(0)
    hour = few + [now - timedelta(seconds=5)]
    assert address_limit.wait_needed(hour, now, limit) == timedelta(seconds=25)
    spread = [now - timedelta(hours=2 * n + 2) for n in range(limit.per_day)]
    assert address_limit.wait_needed(spread, now, limit) == min(spread) + timedelta(days=1) - now
    assert address_limit.wait_needed(spread[:-1], now, limit) == timedelta(0)


async def test_another_website_cannot_sign_a_visitor_up_and_in(client, world):
    response = await client.post("/api/v1/auth/signup", json=body(), headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and response.json()["code"] == "cross_site"
    assert not await Account.exists().where(Account.username == "nadia")


async def test_someone_logged_in_is_sent_to_their_account_not_to_signup(client, world):
    await browser_login(client, "maker")
    response = await client.get("/signup")
    assert response.status_code == 303 and response.headers["location"] == "/me/account"
