"""Another website cannot log a visitor in, nor write in their name with their cookie."""

from __future__ import annotations

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.settings import load_settings
from tests.conftest import PASSWORD, booking_body
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio

ELSEWHERE = "https://evil.example"


async def test_a_login_sent_as_plain_text_is_refused_and_opens_no_session(client, world):
    # what an HTML form on any website can send without asking
    response = await client.post("/api/v1/auth/login", content=f'{{"username": "maker", "password": "{PASSWORD}"}}',
                                 headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["code"] == "json_only"
    assert "application/json" in response.json()["detail"]
    assert "fabbooking_session" not in response.cookies


async def test_a_login_from_another_website_opens_no_session(client, world):
    response = await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD},
                                 headers={"Origin": ELSEWHERE})
    assert response.status_code == 403
    assert response.json()["code"] == "cross_site"
    assert "fabbooking_session" not in response.cookies


@pytest.mark.parametrize("claim", [{"Origin": ELSEWHERE}, {"Referer": f"{ELSEWHERE}/page.html"},
                                   {"Origin": "null"}])
async def test_a_cookie_write_from_another_website_is_refused_and_writes_nothing(client, world, claim):
    await browser_login(client, "maker")
    response = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]), headers=claim)
    assert response.status_code == 403
    assert response.json()["code"] == "cross_site"
    assert await Booking.count() == 0


async def test_a_cookie_write_in_plain_text_is_refused_and_writes_nothing(client, world):
    await browser_login(client, "maker")
    response = await client.post("/api/v1/bookings", content=str(booking_body(world.ids["printer"])),
                                 headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert await Booking.count() == 0


@pytest.mark.parametrize("origin", ["http://testserver", load_settings().public_url.rstrip("/")])
async def test_a_cookie_write_from_fabbooking_itself_is_accepted(client, world, origin):
    await browser_login(client, "maker")
    response = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]),
                                 headers={"Origin": origin})
    assert response.status_code == 201, response.text


async def test_scripts_with_a_token_are_not_concerned_by_where_they_run(client, world):
    response = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]),
                                 headers={**world.auth("maker"), "Origin": ELSEWHERE})
    assert response.status_code == 201, response.text


async def test_the_login_form_needs_its_csrf_token(client, world):
    response = await client.post("/login", data={"username": "maker", "password": PASSWORD})
    assert response.status_code == 403
    assert "fabbooking_session" not in response.cookies
