"""The animator desk: what an animator sees and does at the front desk of a site."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time, timedelta

import pytest

from fabbooking.accounts.tables import Account
from fabbooking.bookings.calendar import Interval
from fabbooking.bookings.rules import BookingRules
from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Closure, Machine
from fabbooking.training.tables import Qualification
from fabbooking.web.desk_forms import clock_choices, free_stretches, read_booking, read_day
from tests.conftest import PARIS, PASSWORD, make_machine

pytestmark = pytest.mark.anyio

DESK = "/desk/atelier"


async def log_in(client, username: str) -> None:
    response = await client.post("/api/v1/auth/login",
                                 json={"username": username, "password": PASSWORD})
    assert response.status_code == 200


async def csrf_token(client) -> str:
    if not client.cookies.get("fabbooking_csrf"):
        await client.get("/")
    return client.cookies.get("fabbooking_csrf")


async def post_form(client, path: str, data: dict, **kwargs):
    return await client.post(path, data={**data, "_csrf_token": await csrf_token(client)}, **kwargs)


def text_of(response) -> str:
    return html.unescape(response.text)


def local_day(days_ahead: int):
    return datetime.now(PARIS).date() + timedelta(days=days_ahead)


async def insert_booking(machine: int, maker: int, booked_by: int, days_ahead: int,
                         start: str = "10:00", minutes: int = 60) -> int:
    begin = datetime.combine(local_day(days_ahead), time.fromisoformat(start), tzinfo=PARIS)
    rows = await Booking.insert(Booking(machine=machine, maker=maker, booked_by=booked_by,
                                        start_at=begin, end_at=begin + timedelta(minutes=minutes))
                                ).returning(Booking.id)
    return rows[0]["id"]


def desk_booking(maker_id: int, machine_id: int, days_ahead: int = 1, start: str = "10:00",
                 minutes: int = 60, note: str = "") -> dict:
    return {"maker_id": maker_id, "machine_id": machine_id,
            "day": local_day(days_ahead).isoformat(), "start": start, "minutes": minutes,
            "note": note}


async def test_an_animator_of_one_site_lands_on_its_desk_and_others_choose(client, world):
    await log_in(client, "animator")
    landed = await client.get("/desk")
    assert landed.status_code == 303 and landed.headers["location"] == DESK
    desk = text_of(await client.get(DESK))
    assert 'href="/desk"' not in desk.split("<main", 1)[1], "no list of one site to go back to"

    await log_in(client, "admin")
    page = await client.get("/desk")
    assert page.status_code == 200
    assert 'href="/desk/atelier"' in page.text and 'href="/desk/ailleurs"' in page.text


async def test_makers_and_other_sites_animators_are_refused(client, world):
    assert (await client.get(DESK)).headers["location"].startswith("/login?next=")

    await log_in(client, "maker")
    assert (await client.get("/desk")).status_code == 403
    assert (await client.get(DESK)).status_code == 403

    await log_in(client, "stranger")
    refused = await client.get(DESK)
    assert refused.status_code == 403
    assert "Seule l'équipe de ce lieu" in text_of(refused)
    changed = await post_form(client, f"{DESK}/machines/{world.ids['printer']}/status",
                              {"status": "maintenance"})
    assert changed.status_code == 403
    machine = await Machine.select(Machine.status).where(Machine.id == world.ids["printer"]).first()
    assert machine["status"] == "available"


async def test_desk_shows_todays_bookings_of_the_site(client, world):
    await insert_booking(world.ids["printer"], world.ids["maker"], world.ids["animator"], 0, "10:00")
    await insert_booking(world.ids["laser"], world.ids["newbie"], world.ids["newbie"], 1, "11:00")
    await insert_booking(world.ids["far_printer"], world.ids["newbie"], world.ids["newbie"], 0)
    await log_in(client, "animator")

    page = text_of(await client.get(DESK))

    assert "10:00–11:00" in page
    assert 'Maker <span class="muted">(maker)</span>' in page
    assert "réservé par l'équipe" in page
    assert "Newbie" not in page  # tomorrow here, today elsewhere: not on today's desk


async def test_animator_cancels_a_booking_from_the_desk(client, world):
    booking_id = await insert_booking(world.ids["printer"], world.ids["maker"], world.ids["maker"],
                                      0, "19:00")
    await log_in(client, "animator")

    response = await post_form(client, f"{DESK}/bookings/{booking_id}/cancel", {})

    assert response.status_code == 303
    assert response.headers["location"] == f"{DESK}?done=cancelled#done"
    row = await Booking.select(Booking.status, Booking.cancelled_by).where(Booking.id == booking_id).first()
    assert row == {"status": "cancelled", "cancelled_by": world.ids["animator"]}
    page = text_of(await client.get(response.headers["location"]))
    assert "La réservation est annulée" in page
    assert "(maker)" not in page


async def test_walk_in_gets_an_account_without_email_and_a_booking(client, world):
    cutter = await make_machine(world.ids["atelier"], "cutter", kind="vinyl_cutter")
    await log_in(client, "animator")

    created = await post_form(client, f"{DESK}/accounts", {
        "display_name": "Nadia Kerhervé", "username": "nadia", "password": "un-secret"})

    assert created.status_code == 303
    account = await Account.select().where(Account.username == "nadia").first()
    assert account["email"] is None and account["role"] == "maker"
    assert account["created_by"] == world.ids["animator"]
    assert created.headers["location"] == f"{DESK}/person?maker={account['id']}&done=account#done"
    page = text_of(await client.get(created.headers["location"]))
    assert "Le compte de Nadia Kerhervé est créé" in page
    assert f'href="{DESK}/book?maker={account["id"]}"' in page
    form = text_of(await client.get(f"{DESK}/book?maker={account['id']}&machine={cutter}"))
    assert f'name="maker_id" value="{account["id"]}"' in form
    assert "Réserver pour Nadia Kerhervé" in form

    booked = await post_form(client, f"{DESK}/bookings",
                             desk_booking(account["id"], cutter, note="un porte-clés"))

    assert booked.status_code == 303
    row = await Booking.select().where(Booking.maker == account["id"]).first()
    assert row["booked_by"] == world.ids["animator"] and row["machine"] == cutter
    assert row["start_at"] == datetime.combine(local_day(1), time(10), tzinfo=PARIS)
    confirmation = text_of(await client.get(booked.headers["location"]))
    assert "C'est réservé : Cutter pour Nadia Kerhervé" in confirmation


async def test_taken_username_is_explained_next_to_its_field(client, world):
    await log_in(client, "animator")

    response = await post_form(client, f"{DESK}/accounts", {
        "display_name": "Autre", "username": "maker", "password": "un-secret"})

    assert response.status_code == 409
    page = text_of(response)
    assert 'aria-describedby="new-username-error"' in page
    assert "Le nom d'utilisateur « maker » est déjà pris" in page
    assert 'role="alert"' in page
    assert await Account.count().where(Account.display_name == "Autre") == 0


async def test_search_finds_a_person_by_name(client, world):
    await log_in(client, "animator")

    page = await client.get(f"{DESK}/person", params={"q": "NEWB"})

    assert f'href="{DESK}/person?maker={world.ids["newbie"]}"' in page.text
    assert "maker=" + str(world.ids["maker"]) not in page.text


async def test_the_desk_search_finds_makers_not_the_team(client, world):
    await log_in(client, "animator")

    page = await client.get(f"{DESK}/person", params={"q": "a"})

    assert page.status_code == 200
    assert f'?maker={world.ids["maker"]}"' in page.text
    for staff in ("admin", "animator", "stranger"):
        assert f'?maker={world.ids[staff]}"' not in page.text, staff


async def test_refused_booking_is_explained_and_nothing_is_written(client, world):
    await log_in(client, "animator")

    response = await post_form(client, f"{DESK}/bookings",
                               desk_booking(world.ids["newbie"], world.ids["printer"]))

    assert response.status_code == 403
    assert "Cette machine demande la formation « Impression 3D – initiation »" in text_of(response)
    assert 'role="alert"' in response.text
    assert await Booking.count() == 0


async def test_granting_a_training_lets_the_person_book(client, world):
    await log_in(client, "animator")
    expires = local_day(365)

    granted = await post_form(client, f"{DESK}/qualifications", {
        "maker_id": world.ids["newbie"], "training_id": world.ids["print"],
        "expires_on": expires.strftime("%d/%m/%Y")})

    assert granted.status_code == 303
    row = await Qualification.select().where(Qualification.account == world.ids["newbie"]).first()
    assert row["training"] == world.ids["print"] and row["expires_on"] == expires
    assert row["granted_by"] == world.ids["animator"] and row["granted_at_site"] == "atelier"
    page = text_of(await client.get(granted.headers["location"]))
    assert "La formation de Newbie est validée" in page
    booked = await post_form(client, f"{DESK}/bookings",
                             desk_booking(world.ids["newbie"], world.ids["printer"]))
    assert booked.status_code == 303


async def test_past_expiry_date_is_tied_to_its_field(client, world):
    await log_in(client, "animator")

    response = await post_form(client, f"{DESK}/qualifications", {
        "maker_id": world.ids["newbie"], "training_id": world.ids["print"],
        "expires_on": local_day(-1).isoformat()})

    assert response.status_code == 422
    assert 'aria-describedby="grant-expires-error"' in response.text
    assert "Cette date est déjà passée" in text_of(response)
    assert await Qualification.count().where(Qualification.account == world.ids["newbie"]) == 0


async def test_machine_put_in_maintenance_shows_on_its_page(client, world):
    await log_in(client, "animator")

    response = await post_form(client, f"{DESK}/machines/{world.ids['printer']}/status",
                               {"status": "maintenance"})

    assert response.status_code == 303
    assert "En maintenance" in (await client.get(f"/machines/{world.ids['printer']}")).text
    refused = await post_form(client, f"{DESK}/bookings",
                              desk_booking(world.ids["maker"], world.ids["printer"]))
    assert "Cette machine est en maintenance" in text_of(refused)


async def test_closing_the_site_refuses_bookings_that_day(client, world):
    await log_in(client, "animator")
    closed_day = local_day(3)

    response = await post_form(client, f"{DESK}/closures", {
        "start_date": closed_day.isoformat(), "end_date": "", "reason": "inventaire"})

    assert response.status_code == 303
    closure = await Closure.select().first()
    assert (closure["start_date"], closure["end_date"]) == (closed_day, closed_day)
    refused = await post_form(client, f"{DESK}/bookings",
                              desk_booking(world.ids["maker"], world.ids["printer"], days_ahead=3))
    assert refused.status_code == 422
    assert "Le lieu est fermé" in text_of(refused) and "(inventaire)" in text_of(refused)
    assert await Booking.count() == 0

    reopened = await post_form(client, f"{DESK}/closures/{closure['id']}/remove", {})
    assert reopened.status_code == 303
    assert await Closure.count() == 0


async def test_closure_ending_before_it_starts_is_tied_to_its_field(client, world):
    await log_in(client, "animator")

    response = await post_form(client, f"{DESK}/closures", {
        "start_date": local_day(5).isoformat(), "end_date": local_day(4).isoformat(), "reason": ""})

    assert response.status_code == 422
    assert 'aria-describedby="closure-end-error"' in response.text
    assert await Closure.count() == 0


async def test_form_without_csrf_token_is_refused(client, world):
    await log_in(client, "animator")
    await client.get(DESK)

    response = await client.post(f"{DESK}/machines/{world.ids['printer']}/status",
                                 data={"status": "out_of_order"})

    assert response.status_code == 403
    machine = await Machine.select(Machine.status).where(Machine.id == world.ids["printer"]).first()
    assert machine["status"] == "available"


async def test_htmx_gets_only_the_piece_it_asked_for(client, world):
    await log_in(client, "animator")

    today = await client.get(DESK, headers={"HX-Request": "true"})

    assert today.status_code == 200
    assert "HX-Request" in today.headers["vary"]
    assert today.text.lstrip().startswith('<div id="desk-today">')
    assert "<html" not in today.text

    refused = await post_form(client, f"{DESK}/bookings",
                              desk_booking(world.ids["newbie"], world.ids["printer"]),
                              headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert refused.text.lstrip().startswith('<div id="desk-book">')
    assert "Impression 3D – initiation" in text_of(refused)

    booked = await post_form(client, f"{DESK}/bookings",
                             desk_booking(world.ids["maker"], world.ids["printer"]),
                             headers={"HX-Request": "true"})
    assert booked.is_success
    assert booked.headers["hx-redirect"].startswith(f"{DESK}/book?maker={world.ids['maker']}")


def test_desk_days_are_read_as_typed_in_a_date_field_or_by_hand():
    assert read_day("2026-12-24") == read_day("24/12/2026") == date(2026, 12, 24)
    assert read_day("24 décembre") is None


def test_desk_start_times_follow_opening_hours_and_the_slot_grid():
    clocks = clock_choices([(time(9, 10), time(12, 0)), (time(14, 0), time(18, 30))], 30)
    assert clocks[0] == time(9, 0) and clocks[-1] == time(18, 0)
    assert clock_choices([], 60) == [time(h) for h in range(8, 20)]


def test_desk_booking_is_read_in_the_site_timezone():
    wanted, errors = read_booking({"maker_id": "7", "machine_id": "3", "day": "2026-07-14",
                                   "start": "10:00", "minutes": "90"}, PARIS, {3})
    assert errors == {}
    assert wanted.start == datetime(2026, 7, 14, 8, 0, tzinfo=UTC)
    assert wanted.end - wanted.start == timedelta(minutes=90)
    _, errors = read_booking({"maker_id": "7", "machine_id": "4", "day": "demain",
                              "start": "10h", "minutes": ""}, PARIS, {3})
    assert set(errors) == {"book-machine", "book-day", "book-start", "book-minutes"}


def test_a_free_stretch_offers_every_start_that_leaves_room_for_the_shortest_booking():
    day = datetime(2026, 12, 8, tzinfo=PARIS)
    morning = Interval(day.replace(hour=10), day.replace(hour=11))
    sliver = Interval(day.replace(hour=14), day.replace(hour=14, minute=15))
    [stretch] = free_stretches([morning, sliver], PARIS, BookingRules(slot_minutes=15, min_minutes=30))
    assert stretch.interval == morning
    assert stretch.starts == [time(10), time(10, 15), time(10, 30)]  # 10:45 would end after 11:00
