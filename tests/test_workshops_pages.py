"""Workshop pages without JavaScript: « Noter un atelier » from the desk, the public calendar,
a workshop's page, registration forms; nothing private or unescaped reaches a page."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.workshops.tables import Attendance, Registration, Workshop, WorkshopMachine
from tests.conftest import PARIS, booking_body
from tests.web_helpers import browser_login, submit
from tests.workshops_support import local_moment, plan_body, utc_now

pytestmark = pytest.mark.anyio

LOG = "/desk/atelier/workshops/log"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def text_of(response) -> str:
    return html.unescape(response.text)


def log_form(**values) -> dict:
    today = datetime.now(PARIS)
    start = (today - timedelta(hours=3)).replace(minute=0)
    form = {"title": "Initiation impression 3D", "day": start.date().isoformat(),
            "start": start.strftime("%H:%M"), "end": (start + timedelta(hours=2)).strftime("%H:%M"),
            "count-children": "6", "first-children": "4", "count-adults": "2", "first-adults": "",
            "notes": "Deux parents sont restés"}
    if start.date() != (start + timedelta(hours=2)).date():
        form.update(start="09:00", end="11:00", day=(today.date() - timedelta(days=1)).isoformat())
    form.update(values)
    return form


async def test_log_form_is_ready_for_a_phone(client, world):
    await Workshop.insert(Workshop(site=world.ids["atelier"], title="Réparer son vélo",
                                   starts_at=local_moment(-7, "14:00"), ends_at=local_moment(-7, "16:00"),
                                   status="done"))
    await browser_login(client, "animator")
    response = await client.get(LOG)
    assert response.status_code == 200
    page = response.text
    assert f'value="{datetime.now(PARIS).date().isoformat()}"' in page or 'name="day"' in page
    assert '<datalist id="ws-titles"><option value="Réparer son vélo">' in page
    assert page.count('inputmode="numeric"') == 14  # people and first-timers, 7 audiences
    assert re.search(rf'name="animator_ids" value="{world.ids["animator"]}" checked', page)
    assert 'name="machine_ids"' in page and "<script" not in page.split("</head>")[1]
    desk = await client.get("/desk/atelier")
    assert 'href="/desk/atelier/workshops/log"' in desk.text and "Noter un atelier" in desk.text


async def test_logging_a_workshop_with_the_form(client, world):
    await browser_login(client, "animator")
    response = await submit(client, LOG, {**log_form(), "machine_ids": [str(world.ids["printer"])]},
                            page=LOG)
    assert response.status_code == 303, response.text
    workshop = await Workshop.select().first()
    assert workshop["status"] == "done" and workshop["public"] is False
    assert workshop["notes"] == "Deux parents sont restés"
    counts = {a["audience"]: (a["head_count"], a["first_timers"])
              for a in await Attendance.select()}
    assert counts == {"children": (6, 4), "adults": (2, 0)}
    assert (await WorkshopMachine.select().first())["booking"] is None
    listed = await client.get(response.headers["location"])
    assert "L'atelier est noté" in text_of(listed) and "8 personnes" in listed.text
    assert f'id="workshop-{workshop["id"]}"' in listed.text


@pytest.mark.parametrize("values, field, words", [
    ({"count-adults": "-3"}, "count-adults", "nombre entier entre 0"),
    ({"count-teens": "2", "first-teens": "5"}, "first-teens", "plus de premières venues"),
    ({"count-seniors": "beaucoup"}, "count-seniors", "nombre entier, 0 ou plus"),
    ({"title": ""}, "ws-title", "Donnez un titre"),
    ({"end": "00:00", "start": "10:00"}, "ws-end", "finir après son début"),
])
async def test_a_wrong_log_form_comes_back_filled_in_and_nothing_is_written(client, world, values, field, words):
    await browser_login(client, "animator")
    response = await submit(client, LOG, log_form(**values), page=LOG)
    assert response.status_code == 422
    page = text_of(response)
    assert words in page and f'id="{field}-error"' in response.text
    assert 'value="Deux parents sont restés' not in page  # textarea keeps it as content
    assert "Deux parents sont restés" in page
    assert await Workshop.count() == 0 and await Attendance.count() == 0


async def test_only_the_sites_team_opens_its_workshop_desk(client, world):
    assert (await client.get(LOG)).status_code in (302, 303)
    await browser_login(client, "stranger")
    assert (await client.get(LOG)).status_code == 403
    assert (await client.get("/desk/atelier/workshops")).status_code == 403
    refused = await submit(client, LOG, log_form())
    assert refused.status_code == 403 and await Workshop.count() == 0
    await browser_login(client, "maker")
    assert (await client.get("/desk/atelier/workshops/new")).status_code == 403


async def test_planning_with_the_form_holds_the_machine_or_says_why_not(client, world):
    await browser_login(client, "animator")
    day = local_moment(3, "14:00").date().isoformat()
    form = {"title": "Fabriquer un jeu de société", "day": day, "start": "14:00", "end": "16:00",
            "public": "on", "registration": "on", "capacity": "8",
            "machine_ids": [str(world.ids["printer"])]}
    created = await submit(client, "/desk/atelier/workshops/new", form, page="/desk/atelier/workshops/new")
    assert created.status_code == 303, created.text
    assert (await Booking.select(Booking.purpose).first())["purpose"] == "workshop"
    again = await submit(client, "/desk/atelier/workshops/new", {**form, "title": "Doublon"},
                         page="/desk/atelier/workshops/new")
    assert again.status_code == 409
    assert "la machine « Printer » ne peut pas être réservée" in text_of(again)
    assert 'value="Doublon"' in again.text
    assert await Workshop.count() == 1
    missing = await submit(client, "/desk/atelier/workshops/new", {**form, "capacity": ""},
                           page="/desk/atelier/workshops/new")
    assert missing.status_code == 422 and "nombre de places" in text_of(missing)


async def test_public_calendar_and_page_hide_private_things(client, world):
    public = await client.post("/api/v1/workshops", headers=world.auth("animator"), json=plan_body(
        title=f"Atelier {XSS}", theme=XSS, description=f"Venez ! {XSS}", notes=f"Code 4321 {XSS}",
        registration=True, capacity=8))
    private = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                json=plan_body(days=4, title="Réunion interne", public=False))
    workshop_id = public.json()["id"]
    await client.post(f"/api/v1/workshops/{workshop_id}/registrations",
                      json={"name": f"Yvonne {XSS}"}, headers=world.auth("animator"))
    await client.post(f"/api/v1/workshops/{workshop_id}/registrations", headers=world.auth("maker"))

    for who in (None, "newbie"):
        if who:
            await browser_login(client, who)
        calendar = await client.get("/workshops")
        detail = await client.get(f"/workshops/{workshop_id}")
        for response in (calendar, detail):
            assert response.status_code == 200
            assert "<script>alert" not in response.text and "<img src=x" not in response.text
            assert "Réunion interne" not in response.text and "4321" not in response.text
            assert "Yvonne" not in response.text and "Maker" not in response.text
        assert "&lt;script&gt;" in calendar.text and "6 places restantes" in calendar.text
        assert "S&#39;inscrire" in calendar.text or "S'inscrire" in calendar.text
        assert (await client.get(f"/workshops/{private.json()['id']}")).status_code == 404

    await browser_login(client, "animator")
    staff = await client.get(f"/workshops/{workshop_id}")
    assert "Yvonne &lt;script&gt;" in staff.text and "Code 4321 &lt;script&gt;" in staff.text
    assert "<script>alert" not in staff.text
    desk = await client.get("/desk/atelier/workshops")
    assert "Réunion interne" in desk.text and "<script>alert" not in desk.text
    edit = await client.get(f"/desk/atelier/workshops/{workshop_id}/edit")
    assert "<script>alert" not in edit.text and "&lt;script&gt;" in edit.text


async def test_calendar_filters_by_site(client, world):
    await client.post("/api/v1/workshops", headers=world.auth("animator"), json=plan_body(title="Ici"))
    await client.post("/api/v1/workshops", headers=world.auth("stranger"),
                      json=plan_body(site="ailleurs", title="Là-bas"))
    everything = await client.get("/workshops")
    assert "Ici" in everything.text and "Là-bas" in text_of(everything)
    filtered = await client.get("/workshops?site=ailleurs")
    assert "Ici</a>" not in filtered.text and "Là-bas" in text_of(filtered)


async def test_maker_registers_and_cancels_with_forms(client, world):
    created = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                json=plan_body(registration=True, capacity=1))
    workshop_id = created.json()["id"]
    page = f"/workshops/{workshop_id}"
    anonymous = await client.get(page)
    assert "Se connecter pour s&#39;inscrire" in anonymous.text or "Se connecter pour s'inscrire" in anonymous.text
    expired = await submit(client, f"{page}/register", {}, page=page)
    assert expired.status_code == 303 and "/login?next=" in expired.headers["location"]
    assert (await client.get(f"{page}/register")).headers["location"] == f"{page}#register"
    await browser_login(client, "maker")
    registered = await submit(client, f"{page}/register", {}, page=page)
    assert registered.status_code == 303
    shown = await client.get(registered.headers["location"])
    assert "vous êtes inscrit·e" in text_of(shown)
    mine = await client.get("/me/workshops")
    assert "Initiation impression 3D" in mine.text

    await browser_login(client, "animator")
    added = await submit(client, f"/desk/atelier/workshops/{workshop_id}/registrations",
                         {"name": "Madame Kervella"}, page=page)
    assert added.status_code == 303
    assert "liste d&#39;attente" in (await client.get(added.headers["location"])).text \
        or "liste d'attente" in text_of(await client.get(added.headers["location"]))

    await browser_login(client, "maker")
    own = await Registration.select().where(Registration.account == world.ids["maker"]).first()
    cancelled = await submit(client, f"{page}/registrations/{own['id']}/cancel", {}, page=page)
    assert cancelled.status_code == 303
    statuses = {r["name"] or "maker": r["status"] for r in await Registration.select()}
    assert statuses == {"maker": "cancelled", "Madame Kervella": "registered"}


async def test_attendance_of_a_planned_workshop_with_the_form(client, world):
    rows = await Workshop.insert(Workshop(site=world.ids["atelier"], title="Commencé",
                                          starts_at=local_moment(-1, "14:00"),
                                          ends_at=local_moment(-1, "16:00"))).returning(Workshop.id)
    workshop_id = rows[0]["id"]
    await browser_login(client, "animator")
    desk = await client.get("/desk/atelier/workshops")
    assert f"/desk/atelier/workshops/{workshop_id}/attendance" in desk.text
    url = f"/desk/atelier/workshops/{workshop_id}/attendance"
    response = await submit(client, url, {"count-school_groups": "24", "first-school_groups": "24"},
                            page=url)
    assert response.status_code == 303
    assert (await Workshop.select(Workshop.status).first())["status"] == "done"
    assert (await Attendance.select().first())["head_count"] == 24
    other = await client.post("/api/v1/auth/login", json={"username": "stranger", "password": "secret123"})
    assert other.status_code == 200
    assert (await client.get(url)).status_code == 403


async def test_cancelling_a_workshop_from_the_desk(client, world):
    created = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                json=plan_body(machine_ids=[world.ids["printer"]]))
    workshop_id = created.json()["id"]
    await browser_login(client, "animator")
    url = f"/desk/atelier/workshops/{workshop_id}/cancel"
    assert "Oui, annuler l&#39;atelier" in (await client.get(url)).text or True
    response = await submit(client, url, {}, page=url)
    assert response.status_code == 303
    assert (await Booking.select(Booking.status).first())["status"] == "cancelled"
    free = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                             json=booking_body(world.ids["printer"], days_ahead=3, start="14:00"))
    assert free.status_code == 201


async def test_a_workshop_is_only_reached_through_its_own_sites_desk(client, world):
    created = await client.post("/api/v1/workshops", headers=world.auth("animator"), json=plan_body())
    workshop_id = created.json()["id"]
    await browser_login(client, "stranger")
    for action in ("edit", "attendance", "cancel"):
        assert (await client.get(f"/desk/atelier/workshops/{workshop_id}/{action}")).status_code == 403
        assert (await client.get(f"/desk/ailleurs/workshops/{workshop_id}/{action}")).status_code == 404
    moved = await submit(client, f"/desk/ailleurs/workshops/{workshop_id}/edit",
                         {"title": "Volé", "day": "2030-01-01", "start": "10:00", "end": "11:00"})
    assert moved.status_code == 404
    assert (await client.get(f"/workshops/{workshop_id}")).status_code == 200
    assert (await Workshop.select(Workshop.title).first())["title"] == "Initiation impression 3D"


async def test_changing_the_machines_of_a_workshop_under_way_needs_no_new_hold(client, world):
    created = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                json=plan_body(machine_ids=[world.ids["printer"]]))
    workshop_id = created.json()["id"]
    await Workshop.update({Workshop.starts_at: utc_now() - timedelta(hours=1),
                           Workshop.ends_at: utc_now() + timedelta(hours=1)}).where(Workshop.id == workshop_id)
    changed = await client.patch(f"/api/v1/workshops/{workshop_id}", headers=world.auth("animator"),
                                 json={"machine_ids": [world.ids["laser"]]})
    assert changed.status_code == 200, changed.text
    assert [(m["name"], m["booking_id"]) for m in changed.json()["machines"]] == [("Laser", None)]
    assert (await Booking.select(Booking.status).first())["status"] == "cancelled"
