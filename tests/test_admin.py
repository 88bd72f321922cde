"""Piccolo Admin at /admin: raw records for network admins only, behind the app's own login."""

import pytest

from fabbooking.accounts.tables import LoginFailure
from tests.conftest import PASSWORD
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio


async def test_back_office_lists_every_table_for_a_network_admin_logged_in_once(client, world):
    await browser_login(client, "admin")  # the app's login, nothing more
    home = await client.get("/admin/")
    assert home.status_code == 200
    tables = await client.get("/admin/api/tables/")
    assert tables.status_code == 200
    assert {"booking", "machine", "site", "account", "qualification"} <= set(tables.json())


async def test_a_network_admin_edits_records_with_the_apps_session(client, world):
    await browser_login(client, "admin")
    await client.get("/admin/")
    response = await client.patch(f"/admin/api/tables/site/{world.ids['atelier']}/", json={"name": "Atelier neuf"},
                                  headers={"X-CSRFToken": client.cookies.get("csrftoken")})
    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/sites/atelier")).json()["name"] == "Atelier neuf"


async def test_someone_not_logged_in_is_sent_to_the_apps_login_page_and_back(client, world):
    response = await client.get("/admin/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2F"
    assert (await client.get("/admin/api/tables/")).status_code == 401


@pytest.mark.parametrize("who", ["maker", "animator"])
async def test_back_office_stays_closed_to_makers_and_animators(client, world, who):
    await browser_login(client, who)
    page = await client.get("/admin/")
    assert page.status_code == 403
    assert 'type="password"' not in page.text  # no second login form
    assert (await client.get("/admin/api/tables/")).status_code == 401


async def test_the_back_offices_own_login_form_opens_nothing(client, world):
    await client.get("/admin/")
    response = await client.post("/admin/public/login/", json={"username": "admin", "password": PASSWORD},
                                 headers={"X-CSRFToken": client.cookies.get("csrftoken") or ""})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await client.get("/admin/api/tables/")).status_code == 401


async def test_a_throttled_admin_cannot_slip_in_through_the_back_office(client, world):
    for _ in range(5):
        await client.post("/api/v1/auth/login", json={"username": "admin", "password": "bad-guess"})
    assert await LoginFailure.count() == 5
    refused = await client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 429
    back_door = await client.post("/admin/public/login/", json={"username": "admin", "password": PASSWORD})
    assert back_door.status_code == 303
    assert (await client.get("/admin/api/tables/")).status_code == 401


async def test_a_leftover_back_office_cookie_counts_for_nothing(client, world):
    await browser_login(client, "admin")
    session = client.cookies.get("fabbooking_session")
    client.cookies.clear()
    client.cookies.set("id", session)  # the cookie name Piccolo Admin reads by itself
    assert (await client.get("/admin/api/tables/")).status_code == 401


async def test_logging_out_of_the_app_closes_the_back_office(client, world):
    await browser_login(client, "admin")
    assert (await client.get("/admin/api/tables/")).status_code == 200
    await client.post("/api/v1/auth/logout")
    assert (await client.get("/admin/api/tables/")).status_code == 401
