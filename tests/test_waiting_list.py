"""The waiting list for machines: who is told when a slot frees up (by a cancellation or a
no-show release), once, in the order they asked; and nobody sees another's wishes.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabbooking import database
from fabbooking.bookings.tables import Booking
from fabbooking.notifications.sending import drain
from fabbooking.notifications.tables import Outbox
from fabbooking.usage.tables import Telemetry
from tests.conftest import PARIS, booking_body, in_the_paris_afternoon_if, make_account, qualify
from tests.mail_support import mail_server  # noqa: F401
from tests.test_notifications import give_address
from tests.test_web_manage import login

pytestmark = pytest.mark.anyio


def day(days_ahead: int = 2) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=days_ahead)).isoformat()


async def waiting_person(world, name: str) -> str:
    """A maker with a proved address, who may use the API."""
    from tests.conftest import issue_token

    world.ids[name] = await make_account(name)
    world.tokens[name] = await issue_token(world.ids[name])
    await give_address(world.ids[name], f"{name}@example.org")
    return name


async def wait_for(client, world, who: str, **wish) -> int:
    response = await client.post("/api/v1/waiting-list", headers=world.auth(who), json={"day": day(), **wish})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def told(kind: str = "slot_freed") -> list[str]:
    rows = await Outbox.select(Outbox.address).where(Outbox.kind == kind).order_by(Outbox.id)
    return [r["address"] for r in rows]


async def book(client, world, start: str = "10:00") -> int:
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                 json=booking_body(world.ids["printer"], start=start))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_cancellation_tells_each_person_waiting_for_that_time_once_in_the_order_they_asked(
        client, world, mail_server):
    booking = await book(client, world)
    for name in ("alice", "bruno", "chloe", "denis"):
        await waiting_person(world, name)
    await wait_for(client, world, "bruno", machine_id=world.ids["printer"], start="09:00", end="12:00")
    await wait_for(client, world, "alice", site="atelier", kind="3d_printer", start="10:30", end="11:30")
    await wait_for(client, world, "chloe", machine_id=world.ids["printer"], start="14:00", end="16:00")
    await wait_for(client, world, "denis", site="ailleurs", kind="3d_printer", start="09:00", end="12:00")

    response = await client.post(f"/api/v1/bookings/{booking}/cancel", headers=world.auth("maker"))
    assert response.status_code == 200, response.text
    assert await told() == ["bruno@example.org", "alice@example.org"]

    again = await book(client, world)
    response = await client.post(f"/api/v1/bookings/{again}/cancel", headers=world.auth("animator"))
    assert response.status_code == 200, response.text
    assert await told() == ["bruno@example.org", "alice@example.org"]  # told once

    await drain(datetime.now(UTC), server=mail_server.server)
    message = next(m for m in mail_server.inbox.received if m["To"] == "alice@example.org")
    assert message["Subject"].startswith("Libre : Printer")
    text = message.get_body(("plain",)).get_content()
    assert "la première qui réserve l'obtient" in text
    assert f"/machines/{world.ids['printer']}/book?start=" in text
    mine = await client.get("/api/v1/waiting-list", headers=world.auth("alice"))
    assert mine.json()[0]["told_at"] is not None


async def test_the_link_opens_the_booking_form_on_the_freed_slot(client, world):
    booking = await book(client, world)
    await waiting_person(world, "alice")
    await wait_for(client, world, "alice", machine_id=world.ids["printer"], start="08:00", end="12:00")
    await client.post(f"/api/v1/bookings/{booking}/cancel", headers=world.auth("maker"))
    [row] = await Outbox.select(Outbox.text_body).where(Outbox.kind == "slot_freed")
    link = next(line for line in row["text_body"].splitlines() if "/book?start=" in line)
    await login(client, "maker")  # qualified for the printer, as alice would need to be
    form = await client.get(link[link.index("/machines/"):])
    assert form.status_code == 200, form.text
    assert "Printer" in form.text and "10:00" in form.text


async def test_a_no_show_release_tells_the_people_waiting_for_the_rest_of_the_slot(client, world, mail_server):
    with in_the_paris_afternoon_if(too_late=21, too_early=4):  # its windows stay within one Paris day
        await _no_show_release_tells_the_people_waiting(client, world)


async def _no_show_release_tells_the_people_waiting(client, world):
    now = datetime.now(UTC)
    started = await Booking.insert(Booking(
        machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
        start_at=now - timedelta(minutes=30), end_at=now + timedelta(minutes=90))).returning(Booking.id)
    await Telemetry.insert(Telemetry(machine=world.ids["printer"]))
    await waiting_person(world, "alice")
    await waiting_person(world, "bruno")
    local_now = now.astimezone(PARIS)
    wish = {"day": local_now.date().isoformat(), "machine_id": world.ids["printer"]}
    for who, start, end in (("alice", local_now, local_now + timedelta(hours=1)),
                            ("bruno", local_now - timedelta(hours=3), local_now - timedelta(hours=2))):
        assert start.date() == end.date() == local_now.date()
        response = await client.post("/api/v1/waiting-list", headers=world.auth(who), json={
            **wish, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")})
        expected = 201 if who == "alice" else 422  # bruno's window is already over
        assert response.status_code == expected, response.text
    from fabbooking.usage.no_show import release_no_shows

    async with database.write_transaction():
        assert await release_no_shows(now) == [started[0]["id"]]
    assert await told() == ["alice@example.org"]
    async with database.write_transaction():
        assert await release_no_shows(now) == []
    assert await told() == ["alice@example.org"]


async def test_withdrawing_stops_the_message_and_nobody_sees_or_withdraws_anothers_wish(client, world):
    booking = await book(client, world)
    await waiting_person(world, "alice")
    await waiting_person(world, "bruno")
    alices = await wait_for(client, world, "alice", machine_id=world.ids["printer"], start="09:00", end="12:00")
    brunos = await wait_for(client, world, "bruno", machine_id=world.ids["printer"], start="09:00", end="12:00")

    assert [w["id"] for w in (await client.get("/api/v1/waiting-list", headers=world.auth("bruno"))).json()] \
        == [brunos]
    response = await client.delete(f"/api/v1/waiting-list/{alices}", headers=world.auth("bruno"))
    assert response.status_code == 404, response.text
    response = await client.delete(f"/api/v1/waiting-list/{brunos}", headers=world.auth("bruno"))
    assert response.status_code == 204, response.text
    assert (await client.get("/api/v1/waiting-list", headers=world.auth("bruno"))).json() == []

    await client.post(f"/api/v1/bookings/{booking}/cancel", headers=world.auth("maker"))
    assert await told() == ["alice@example.org"]


@pytest.mark.parametrize(("wish", "status", "words"), [
    ({"site": "atelier", "kind": "3d_printer", "start": "12:00", "end": "10:00"}, 422, "La fin doit être après"),
    ({"site": "atelier", "kind": "3d_printer", "start": "10:00", "end": "12:00", "day": "2020-01-01"}, 422,
     "déjà passé"),
    ({"machine_id": 999999, "start": "10:00", "end": "12:00"}, 404, "la machine n° 999999"),
    ({"site": "nulle-part", "kind": "3d_printer", "start": "10:00", "end": "12:00"}, 404, "nulle-part"),
    ({"site": "atelier", "kind": "fusée", "start": "10:00", "end": "12:00"}, 422, "fusée"),
    ({"site": "atelier", "start": "10:00", "end": "12:00"}, 422, "Dites quelle machine"),
    ({"site": "ailleurs", "machine_id": 0, "start": "10:00", "end": "12:00"}, 404, "la machine n° 0"),
    ({"site": "atelier", "kind": "3d_printer", "start": "midi", "end": "12:00"}, 422, "start"),
])
async def test_a_wish_that_cannot_be_is_refused_clearly_and_nothing_is_written(client, world, wish, status, words):
    from fabbooking.waiting.tables import MachineWish

    response = await client.post("/api/v1/waiting-list", headers=world.auth("maker"), json={"day": day(), **wish})
    assert response.status_code == status, response.text
    assert words in response.text
    assert await MachineWish.count() == 0


async def test_only_people_with_an_account_may_wait(client, world):
    response = await client.post("/api/v1/waiting-list", json={
        "day": day(), "site": "atelier", "kind": "3d_printer", "start": "10:00", "end": "12:00"})
    assert response.status_code == 401


async def test_a_maker_asks_on_the_machine_page_sees_the_wish_in_my_bookings_and_withdraws_it(client, world):
    from tests.web_helpers import browser_login

    await browser_login(client, "maker")
    machine_page = await client.get(f"/machines/{world.ids['printer']}")
    assert "/me/waiting-list/new?machine=" in machine_page.text
    form = await client.get(f"/me/waiting-list/new?machine={world.ids['printer']}")
    assert form.status_code == 200 and "Me prévenir si une machine se libère" in form.text
    token = client.cookies.get("fabbooking_csrf")

    refused = await client.post("/me/waiting-list", data={
        "_csrf_token": token, "machine": str(world.ids["printer"]), "day": day(), "start": "12:00", "end": "10:00"})
    assert refused.status_code == 422 and "La fin doit être après le début" in refused.text
    unreadable = await client.post("/me/waiting-list", data={
        "_csrf_token": token, "machine": str(world.ids["printer"]), "day": "demain", "start": "10:00", "end": "12:00"})
    assert unreadable.status_code == 422 and "le jour (AAAA-MM-JJ)" in unreadable.text

    asked = await client.post("/me/waiting-list", data={
        "_csrf_token": token, "machine": str(world.ids["printer"]), "day": day(), "start": "10:00", "end": "12:00"})
    assert asked.status_code == 303 and asked.headers["location"].startswith("/me/bookings?done=waiting")
    mine = await client.get("/me/bookings?done=waiting")
    assert "C'est noté" in mine.text and "Ne plus me prévenir" in mine.text and "Printer" in mine.text
    [wish] = (await client.get("/api/v1/waiting-list", headers=world.auth("maker"))).json()

    await waiting_person(world, "bruno")
    response = await client.delete(f"/api/v1/waiting-list/{wish['id']}", headers=world.auth("bruno"))
    assert response.status_code == 404
    withdrawn = await client.post(f"/me/waiting-list/{wish['id']}/withdraw", data={"_csrf_token": token})
    assert withdrawn.status_code == 303
    assert "Vous n'attendez aucune machine." in (await client.get("/me/bookings")).text


async def test_the_schedule_offers_to_wait_when_nothing_is_free(client, world):
    from tests.web_helpers import browser_login

    await browser_login(client, "maker")
    await qualify(world.ids["maker"], world.ids["laser_training"])
    for start in range(8, 20):
        response = await client.post("/api/v1/bookings", headers=world.auth("animator"), json=booking_body(
            world.ids["laser"], start=f"{start:02d}:00", maker_id=world.ids["maker"]))
        assert response.status_code == 201, response.text
    page = await client.get(f"/schedule?site=atelier&kind=laser_cutter&day={day()}")
    assert "Aucun créneau libre" in page.text
    assert "/me/waiting-list/new?site=atelier&amp;kind=laser_cutter" in page.text


async def test_a_cancelled_workshop_tells_those_waiting_for_its_machine(client, world):
    from tests.workshops_support import plan_body

    response = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                 json=plan_body(machine_ids=[world.ids["printer"]], days=2))
    assert response.status_code == 201, response.text
    await waiting_person(world, "alice")
    await wait_for(client, world, "alice", machine_id=world.ids["printer"], start="15:00", end="16:00")
    cancelled = await client.post(f"/api/v1/workshops/{response.json()['id']}/cancel", headers=world.auth("animator"))
    assert cancelled.status_code == 200, cancelled.text
    assert await told() == ["alice@example.org"]
