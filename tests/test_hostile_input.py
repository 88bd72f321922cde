"""Hostile or clumsy input gets a clear 4xx `{code, detail}` (or an error page) and writes
nothing, anonymously too, on both databases: row ids past the database's integers, NUL
characters in any text, JSON nested 100,000 deep, a site without a timezone."""

from __future__ import annotations

import pytest

from fabbooking.bookings.tables import Booking
from tests.conftest import booking_body
from tests.web_helpers import csrf

pytestmark = pytest.mark.anyio

TOO_BIG = ["2147483648", "9223372036854775808", "99999999999999999999999"]
WEEK = "start=2026-12-07T00:00:00%2B01:00&end=2026-12-08T00:00:00%2B01:00"


@pytest.mark.parametrize("number", TOO_BIG)
async def test_ids_no_row_can_have_name_nothing(client, world, number):
    anonymous = [f"/machines/{number}", f"/api/v1/machines/{number}", f"/api/v1/machines/{number}/status",
                 f"/api/v1/machines/{number}/availability?{WEEK}", f"/calendar/machines/{number}.ics",
                 f"/api/v1/workshops/{number}"]
    for path in anonymous:
        response = await client.get(path)
        assert response.status_code == 404, (path, response.status_code)
    assert (await client.get(f"/machines/{number}/book")).status_code in (303, 404)  # sign in first, or nothing
    admin = world.auth("admin")
    for method, path in [("GET", f"/api/v1/bookings/{number}"), ("POST", f"/api/v1/bookings/{number}/cancel"),
                         ("GET", f"/api/v1/bookings?machine={number}"), ("GET", f"/api/v1/machines/{number}/usage")]:
        response = await client.request(method, path, headers=admin)
        assert response.status_code in (404, 422), (path, response.status_code)
        assert response.json()["code"] in ("not_found", "invalid_input")
    booked = await client.post("/api/v1/bookings", headers=admin, json={
        "machine_id": int(number), "start": "2026-12-10T10:00:00+01:00", "end": "2026-12-10T11:00:00+01:00"})
    assert booked.status_code in (404, 422) and booked.json()["code"] in ("not_found", "invalid_input")
    assert await Booking.count() == 0


async def test_a_nul_character_is_dropped_from_every_text(client, world):
    """No text of ours holds a NUL: it is dropped from queries and bodies before any handler
    (PostgreSQL answered 500 to it, anonymously, on dozens of routes)."""
    nul = "a\x00b"
    token = await client.post("/api/v1/auth/token", json={"username": nul, "password": "x"})
    assert token.status_code == 401 and token.json()["code"] == "bad_credentials"
    site = await client.get("/api/v1/machines?site=a%00b")
    assert site.status_code == 404 and "« ab »" in site.json()["detail"]
    assert (await client.get("/api/v1/users?q=a%00b", headers=world.auth("animator"))).status_code == 200
    booked = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                               json={**booking_body(world.ids["printer"]), "note": nul})
    assert booked.status_code == 201 and booked.json()["note"] == "ab"
    renamed = await client.patch("/api/v1/sites/atelier", headers=world.auth("admin"), json={"name": nul})
    assert renamed.status_code == 200 and renamed.json()["name"] == "ab"
    topic = await client.put(f"/api/v1/machines/{world.ids['laser']}/telemetry", headers=world.auth("animator"),
                             json={"format": "tasmota", "device_topic": "plug\x00"})
    assert topic.status_code == 200 and topic.json()["device_topic"] == "plug"
    literal = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                json={**booking_body(world.ids["printer"], 3), "note": "\\u0000 est du texte"})
    assert literal.status_code == 201 and literal.json()["note"] == "\\u0000 est du texte"  # text, not a NUL
    assert (await client.get("/projects/%00")).status_code == 404
    form_token = await csrf(client, "/login")
    page = await client.post("/login", data={"_csrf_token": form_token, "username": nul, "password": "x"})
    assert page.status_code == 401 and "<html" in page.text.lower()


async def test_a_second_content_type_does_not_smuggle_a_nul_past_the_guard(client, world):
    """Two Content-Type headers: the body is read as the first says (JSON), so the NUL guard
    reads the first too (it read the last, and let « text/plain » carry a NUL to the database)."""
    import json

    body = json.dumps({**booking_body(world.ids["printer"]), "note": "a\x00b"}).encode()
    headers = [*world.auth("maker").items(), ("content-type", "application/json"), ("content-type", "text/plain")]
    booked = await client.post("/api/v1/bookings", headers=headers, content=body)
    assert booked.status_code == 201 and booked.json()["note"] == "ab", booked.text


async def test_json_nested_too_deep_is_refused(client, world):
    for headers in ({}, world.auth("maker")):
        response = await client.post("/api/v1/bookings", content=b"[" * 100_000,
                                     headers={**headers, "content-type": "application/json"})
        assert response.status_code == 422 and response.json()["code"] == "invalid_input"


async def test_a_site_cannot_lose_its_timezone(client, world):
    response = await client.patch("/api/v1/sites/atelier", headers=world.auth("admin"), json={"timezone": ""})
    assert response.status_code == 422 and response.json()["code"] == "invalid_timezone"
    assert (await client.get("/")).status_code == 200
