"""Workshops under odd input: ids past what the database holds, control characters (a NUL
byte PostgreSQL refuses), dates in the year 1 or 9999, a NUL byte in a site's slug. Each is
a clear refusal, never a 500, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fabbooking.ids import is_id
from fabbooking.workshops import rules
from fabbooking.workshops.tables import Registration, Workshop
from tests.web_helpers import browser_login, submit
from tests.workshops_support import log_body, plan_body, workshop_count

pytestmark = pytest.mark.anyio

HUGE = 2**64  # past PostgreSQL's bigint and SQLite's integer
BIG = 2**40  # past PostgreSQL's integer (ids are 32-bit)


# --- the rules, pure ----------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (1, True), (2**31 - 1, True), (2**31, False), (HUGE, False), (0, False), (-1, False),
    (True, False), ("1", False), (None, False)])
def test_only_numbers_the_database_holds_are_ids(value, expected):
    assert is_id(value) is expected


def test_control_characters_and_bidi_overrides_are_taken_out_of_texts():
    assert rules.clean_line("Impr\x00ession\t3D\r\n\u202eevil") == "Impression 3D  evil"
    assert rules.clean_lines("a\x00b\r\nc\td\x07\u2066") == "ab\nc\td"
    assert rules.clean_line("Couture 👩\u200d🔧 é") == "Couture 👩\u200d🔧 é"  # emoji joiners stay


@pytest.mark.parametrize("start", [
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    datetime(1999, 12, 31, 12, tzinfo=UTC),
    datetime(9999, 12, 31, 20, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2100, 1, 1, tzinfo=UTC)])
def test_a_workshop_outside_believable_years_is_refused(start):
    refusal = rules.check_times(start, start + timedelta(hours=2))
    assert refusal is not None and refusal.code == "workshop_date_out_of_range"


# --- the API ------------------------------------------------------------------------

@pytest.mark.parametrize("number", [HUGE, BIG])
async def test_ids_too_big_for_the_database_are_not_found(client, world, number):
    staff, maker = world.auth("animator"), world.auth("maker")
    planned = await client.post("/api/v1/workshops", json=plan_body(registration=True, capacity=4),
                                headers=staff)
    workshop_id = planned.json()["id"]
    for method, path, body, headers in [
        ("GET", f"/api/v1/workshops/{number}", None, maker),
        ("PATCH", f"/api/v1/workshops/{number}", {"notes": "x"}, staff),
        ("POST", f"/api/v1/workshops/{number}/cancel", None, staff),
        ("POST", f"/api/v1/workshops/{number}/attendance", {"attendance": []}, staff),
        ("GET", f"/api/v1/workshops/{number}/registrations", None, staff),
        ("POST", f"/api/v1/workshops/{number}/registrations", None, maker),
        ("POST", f"/api/v1/workshops/{workshop_id}/registrations/{number}/cancel", None, maker),
        ("POST", f"/api/v1/workshops/{workshop_id}/registrations/{number}/cancel", None, staff),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
    assert (await client.get(f"/workshops/{number}")).status_code == 404
    await browser_login(client, "animator")
    for page in (f"/desk/atelier/workshops/{number}/edit", f"/desk/atelier/workshops/{number}/attendance"):
        assert (await client.get(page)).status_code == 404, page
    assert (await client.get(f"/desk/atelier/workshops?workshop={number}")).status_code == 200


async def test_animator_or_machine_ids_too_big_are_refused_by_name(client, world):
    staff = world.auth("animator")
    for body, code in [(plan_body(animator_ids=[HUGE]), "animator_not_of_site"),
                       (plan_body(animator_ids=[BIG]), "animator_not_of_site"),
                       (plan_body(machine_ids=[HUGE]), "machine_not_of_site"),
                       (plan_body(machine_ids=[world.ids["printer"], BIG]), "machine_not_of_site")]:
        response = await client.post("/api/v1/workshops", json=body, headers=staff)
        assert response.status_code == 422 and response.json()["code"] == code, response.text
    assert await workshop_count() == 0
    planned = await client.post("/api/v1/workshops", json=plan_body(), headers=staff)
    patched = await client.patch(f"/api/v1/workshops/{planned.json()['id']}", json={"animator_ids": [HUGE]},
                                 headers=staff)
    assert patched.status_code == 422 and patched.json()["code"] == "animator_not_of_site"
    await browser_login(client, "animator")
    form = {"title": "Découpe", "day": (datetime.now(UTC) + timedelta(days=5)).date().isoformat(),
            "start": "10:00", "end": "12:00", "machine_ids": str(HUGE)}
    page = await submit(client, "/desk/atelier/workshops/new", form, page="/desk/atelier/workshops/new")
    assert page.status_code == 422
    assert await workshop_count() == 1


async def test_control_characters_are_taken_out_of_workshop_texts(client, world):
    staff = world.auth("animator")
    planned = await client.post("/api/v1/workshops", headers=staff, json=plan_body(
        title="Impression\x00 3D", theme="\x00Bois", description="ligne 1\x00\r\nligne 2",
        notes="\u202enote", registration=True, capacity=3))
    assert planned.status_code == 201, planned.text
    workshop_id = planned.json()["id"]
    row = await Workshop.select(Workshop.title, Workshop.theme, Workshop.description, Workshop.notes).first()
    assert row == {"title": "Impression 3D", "theme": "Bois", "description": "ligne 1\nligne 2", "notes": "note"}
    only_nul = await client.post("/api/v1/workshops", json=plan_body(title="\x00 "), headers=staff)
    assert only_nul.status_code == 422 and only_nul.json()["code"] == "workshop_title_needed"
    patched = await client.patch(f"/api/v1/workshops/{workshop_id}", json={"notes": "a\x00b", "title": "T\x00"},
                                 headers=staff)
    assert patched.status_code == 200 and patched.json()["notes"] == "ab" and patched.json()["title"] == "T"
    named = await client.post(f"/api/v1/workshops/{workshop_id}/registrations", json={"name": "Jeanne\x00 D."},
                              headers=staff)
    assert named.status_code == 201 and named.json()["name"] == "Jeanne D."
    nameless = await client.post(f"/api/v1/workshops/{workshop_id}/registrations", json={"name": "\x00"},
                                 headers=staff)
    assert nameless.status_code == 422 and nameless.json()["code"] == "registration_name_needed"
    assert await Registration.count() == 1
    logged = await client.post("/api/v1/workshops/log", json=log_body(title="\x00Couture", notes="\x00"),
                               headers=staff)
    assert logged.status_code == 201 and logged.json()["title"] == "Couture"


async def test_control_characters_in_the_desk_forms_are_taken_out_too(client, world):
    await browser_login(client, "animator")
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    logged = await submit(client, "/desk/atelier/workshops/log",
                          {"title": "Couture\x00", "day": day, "start": "10:00", "end": "12:00",
                           "notes": "\x00rien", "count-adults": "3"}, page="/desk/atelier/workshops/log")
    assert logged.status_code == 303
    assert await Workshop.select(Workshop.title, Workshop.notes).first() == {"title": "Couture", "notes": "rien"}
    workshop_id = (await Workshop.select(Workshop.id).first())["id"]
    attendance = await submit(client, f"/desk/atelier/workshops/{workshop_id}/attendance",
                              {"count-adults": "4", "notes": "a\x00b"}, page="/desk/atelier/workshops")
    assert attendance.status_code == 303
    assert (await Workshop.select(Workshop.notes).first())["notes"] == "ab"
    planned = await client.post("/api/v1/workshops", json=plan_body(registration=True, capacity=3),
                                headers=world.auth("animator"))
    named = await submit(client, f"/desk/atelier/workshops/{planned.json()['id']}/registrations",
                         {"name": "\x00"}, page="/workshops")
    assert named.status_code == 422 and await Registration.count() == 0


@pytest.mark.parametrize("start, end", [
    ("0001-01-01T00:00:00+01:00", "0001-01-01T02:00:00+01:00"),  # before the first UTC moment
    ("0001-01-01T10:00:00+00:00", "0001-01-01T12:00:00+00:00"),  # held, but not believable
])
async def test_a_workshop_logged_in_the_year_1_is_refused(client, world, start, end):
    response = await client.post("/api/v1/workshops/log", json={**log_body(), "start": start, "end": end},
                                 headers=world.auth("animator"))
    assert response.status_code == 422 and response.json()["code"] == "workshop_date_out_of_range"
    assert await workshop_count() == 0


@pytest.mark.parametrize("start, end", [
    ("9999-12-31T20:00:00-05:00", "9999-12-31T22:00:00-05:00"),  # after the last UTC moment
    ("9999-12-31T20:00:00+00:00", "9999-12-31T22:00:00+00:00"),
])
async def test_a_workshop_planned_in_the_year_9999_is_refused(client, world, start, end):
    response = await client.post("/api/v1/workshops", json={**plan_body(), "start": start, "end": end},
                                 headers=world.auth("animator"))
    assert response.status_code == 422 and response.json()["code"] == "workshop_date_out_of_range"
    assert await workshop_count() == 0


@pytest.mark.parametrize("query", ["from=0001-01-01T00:00:00%2B01:00", "to=9999-12-31T23:00:00-05:00"])
async def test_a_calendar_window_past_the_first_or_last_moment_is_unreadable(client, world, query):
    response = await client.get(f"/api/v1/workshops?{query}")
    assert response.status_code == 422 and response.json()["code"] == "invalid_datetime"


@pytest.mark.parametrize("path, form", [
    ("/desk/atelier/workshops/new", {"title": "x", "day": "0001-01-01", "start": "00:05", "end": "01:00"}),
    ("/desk/atelier/workshops/new", {"title": "x", "day": "9999-12-31", "start": "22:00", "end": "23:30"}),
    ("/desk/atelier/workshops/log", {"title": "x", "day": "0001-01-01", "start": "00:05", "end": "01:00",
                                     "count-adults": "3"}),
])
async def test_a_day_in_an_impossible_year_is_named_in_the_form(client, world, path, form):
    await browser_login(client, "animator")
    response = await submit(client, path, form, page=path)
    assert response.status_code == 422
    assert "Vérifiez le jour et l'année" in response.text.replace("&#39;", "'")
    assert await workshop_count() == 0


async def test_a_nul_byte_in_a_site_slug_is_not_found(client, world):
    # the edge drops NUL from queries and bodies: « %00 » alone is no site, « atelier\\0x » not one either
    assert (await client.get("/api/v1/workshops?site=atelier%00x")).status_code == 404
    planned = await client.post("/api/v1/workshops", json=plan_body(site="atelier\x00x"), headers=world.auth("animator"))
    assert planned.status_code == 404 and planned.json()["code"] == "not_found"
    await browser_login(client, "animator")
    assert (await client.get("/desk/%00/workshops")).status_code == 404
    assert (await client.get("/workshops?site=%00")).status_code == 200


async def test_thousands_of_animators_or_machines_are_refused_before_any_query(client, world):
    """40 000 ids in one query is more than PostgreSQL's driver carries (a 500 before)."""
    staff = world.auth("animator")
    many = list(range(1, 40_000))
    for body, code in [(plan_body(animator_ids=many), "too_many_animators"),
                       (plan_body(machine_ids=many), "too_many_machines"),
                       (log_body(machine_ids=many), "too_many_machines")]:
        path = "/api/v1/workshops/log" if "attendance" in body else "/api/v1/workshops"
        response = await client.post(path, json=body, headers=staff)
        assert response.status_code == 422 and response.json()["code"] == code, response.text
    assert await workshop_count() == 0
    logged = await client.post("/api/v1/workshops/log", json=log_body(), headers=staff)
    attendance = await client.post(f"/api/v1/workshops/{logged.json()['id']}/attendance",
                                   json={"attendance": [], "machine_ids": many}, headers=staff)
    assert attendance.status_code == 422 and attendance.json()["code"] == "too_many_machines"
    assert rules.check_team_size([1] * 100, [2] * 100) is None  # the same id ticked twice counts once
