"""Booking through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Closure, Machine
from tests.conftest import PARIS, booking_body, local_slot, make_account, qualify

pytestmark = pytest.mark.anyio


async def book(client, world, who="maker", **kwargs):
    body = booking_body(kwargs.pop("machine_id", world.ids["printer"]), **kwargs)
    return await client.post("/api/v1/bookings", json=body, headers=world.auth(who))


async def test_maker_books_a_free_slot_and_sees_it_in_my_bookings(client, world):
    response = await book(client, world)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "confirmed"
    assert booking["maker_id"] == world.ids["maker"] and booking["on_behalf"] is False
    assert booking["start"].endswith("Z")  # stored and returned in UTC

    mine = await client.get("/api/v1/bookings?mine=true", headers=world.auth("maker"))
    assert [b["id"] for b in mine.json()] == [booking["id"]]


async def test_second_booking_of_the_same_time_is_refused_with_409(client, world):
    assert (await book(client, world)).status_code == 201
    await qualify(world.ids["newbie"], world.ids["print"])
    response = await book(client, world, who="newbie", start="10:30", minutes=60)
    assert response.status_code == 409
    assert response.json()["code"] == "overlap"
    assert "déjà réservé" in response.json()["detail"]


async def test_back_to_back_bookings_are_both_accepted(client, world):
    assert (await book(client, world, start="10:00")).status_code == 201
    assert (await book(client, world, start="11:00")).status_code == 201


async def test_unqualified_maker_is_refused_with_403_naming_the_training(client, world):
    response = await book(client, world, who="newbie")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "not_qualified"
    assert "Impression 3D – initiation" in body["detail"]


async def test_qualification_from_another_site_is_valid_here(client, world):
    # granted by the animator of « ailleurs », used at « atelier »
    response = await client.post("/api/v1/qualifications", headers=world.auth("stranger"),
                                 json={"maker_id": world.ids["newbie"], "training_id": world.ids["print"],
                                       "site": "ailleurs"})
    assert response.status_code == 201, response.text
    assert (await book(client, world, who="newbie")).status_code == 201


async def test_expired_qualification_is_refused(client, world):
    await qualify(world.ids["newbie"], world.ids["print"], expires_on=date.today() - timedelta(days=1))
    response = await book(client, world, who="newbie")
    assert response.status_code == 403 and response.json()["code"] == "qualification_expired"


async def test_booking_outside_opening_hours_is_refused_in_plain_words(client, world):
    response = await book(client, world, start="19:30", minutes=60)  # closes at 20:00
    assert response.status_code == 422
    assert response.json()["code"] == "outside_opening_hours"
    assert "heures d'ouverture" in response.json()["detail"]


async def test_refusal_is_in_english_when_asked(client, world):
    body = booking_body(world.ids["printer"], start="19:30")
    response = await client.post("/api/v1/bookings?lang=en", json=body, headers=world.auth("maker"))
    assert response.json()["detail"].startswith("The place is not open")


async def test_booking_during_a_closure_is_refused(client, world):
    day = datetime.now(PARIS).date() + timedelta(days=2)  # the site's day, as the booking's
    await Closure.insert(Closure(site=world.ids["atelier"], start_date=day, end_date=day,
                                 reason="inventaire"))
    response = await book(client, world, days_ahead=2)
    assert response.status_code == 422 and response.json()["code"] == "site_closed"
    assert "inventaire" in response.json()["detail"]


async def test_machine_in_maintenance_cannot_be_booked(client, world):
    await Machine.update({Machine.status: "maintenance"}).where(Machine.id == world.ids["printer"])
    response = await book(client, world)
    assert response.status_code == 422 and response.json()["code"] == "machine_in_maintenance"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"start": "10:07"}, "not_on_slot_grid"),
        ({"minutes": 300}, "too_long"),
        ({"days_ahead": 45}, "too_far_ahead"),
        ({"days_ahead": -1}, "in_the_past"),
    ],
)
async def test_rule_refusals_carry_their_code(client, world, change, code):
    response = await book(client, world, **change)
    assert response.status_code == 422
    assert response.json()["code"] == code


async def test_naive_datetime_is_refused_with_422(client, world):
    start, end = local_slot(2, "10:00")
    body = {"machine_id": world.ids["printer"], "start": start[:19], "end": end}
    response = await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))
    assert response.status_code == 422
    assert response.json()["code"] == "naive_datetime"
    assert await Booking.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"machine_id": "one", "start": "x", "end": "y"},
        {"start": "2030-01-01T10:00:00+01:00"},
        {"machine_id": 1, "start": "2030-01-01T10:00:00+01:00", "end": "2030-01-01T11:00:00+01:00",
         "colour": "red"},
    ],
)
async def test_malformed_booking_requests_get_422_with_code_and_detail(client, world, body):
    response = await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))
    assert response.status_code == 422
    assert set(response.json()) == {"code", "detail"}
    assert await Booking.count() == 0


async def test_malformed_json_is_refused_cleanly(client, world):
    response = await client.post("/api/v1/bookings", content=b"{not json",
                                 headers={**world.auth("maker"), "content-type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"


async def test_booking_unknown_machine_is_404(client, world):
    response = await book(client, world, machine_id=999_999)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_booking_needs_login(client, world):
    response = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]))
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


async def test_bad_token_is_refused(client, world):
    response = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


async def test_quota_limits_a_maker_but_not_the_desk(client, world):
    for day in (1, 2, 3):
        assert (await book(client, world, days_ahead=day)).status_code == 201
    response = await book(client, world, days_ahead=4)
    assert response.status_code == 422 and response.json()["code"] == "too_many_bookings"
    # the animator books a fourth one for the same maker: quotas do not bind the desk
    on_behalf = await book(client, world, who="animator", days_ahead=4, maker_id=world.ids["maker"])
    assert on_behalf.status_code == 201, on_behalf.text
    assert on_behalf.json()["on_behalf"] is True
    assert on_behalf.json()["booked_by_id"] == world.ids["animator"]


async def test_the_quota_counts_the_makers_own_coming_bookings_at_the_site_only(client, world):
    """Not counted: a cancelled or no-show booking, one over already, one at another site, a
    machine held for a workshop; counted: one under way. The site allows three."""
    now, maker, printer = datetime.now(UTC), world.ids["maker"], world.ids["printer"]

    def held(machine: int, start: datetime, hours: int = 1, **more) -> Booking:
        return Booking(machine=machine, maker=maker, booked_by=maker, start_at=start,
                       end_at=start + timedelta(hours=hours), **more)

    await Booking.insert(
        held(printer, now + timedelta(days=5), status="cancelled"),
        held(printer, now + timedelta(days=5, hours=2), status="no_show"),
        held(printer, now - timedelta(days=2)),
        held(world.ids["far_printer"], now + timedelta(days=5)),
        held(world.ids["laser"], now + timedelta(days=6), purpose="workshop"),
        held(world.ids["laser"], now - timedelta(minutes=30)),  # under way
    )
    for day in (1, 2):
        assert (await book(client, world, days_ahead=day)).status_code == 201
    response = await book(client, world, days_ahead=3)
    assert response.status_code == 422 and response.json()["code"] == "too_many_bookings"


async def test_only_staff_of_the_site_may_book_on_behalf(client, world):
    response = await book(client, world, who="newbie", maker_id=world.ids["maker"])
    assert response.status_code == 403 and response.json()["code"] == "on_behalf_needs_staff"
    response = await book(client, world, who="stranger", maker_id=world.ids["maker"])
    assert response.status_code == 403 and response.json()["code"] == "on_behalf_needs_staff"


async def test_animator_on_behalf_still_cannot_overlap(client, world):
    assert (await book(client, world)).status_code == 201
    walk_in = await make_account("walkin")
    await qualify(walk_in, world.ids["print"])
    response = await book(client, world, who="animator", maker_id=walk_in)
    assert response.status_code == 409


async def test_buffer_between_bookings_is_enforced(client, world):
    await Machine.update({Machine.buffer_minutes: 15}).where(Machine.id == world.ids["printer"])
    assert (await book(client, world, start="10:00")).status_code == 201
    response = await book(client, world, who="animator", start="11:00",
                          maker_id=world.ids["maker"])
    assert response.status_code == 409 and response.json()["code"] == "too_close"
    assert (await book(client, world, start="11:15")).status_code == 201


async def test_owner_cancels_and_the_booking_is_kept_as_cancelled(client, world):
    booking = (await book(client, world)).json()
    response = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world.auth("maker"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert await Booking.count() == 1
    # the slot is free again
    assert (await book(client, world)).status_code == 201
    again = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world.auth("maker"))
    assert again.status_code == 409 and again.json()["code"] == "already_cancelled"


async def test_owner_cannot_cancel_after_the_deadline_but_the_animator_can(client, world):
    await Machine.update({Machine.cancel_deadline_minutes: 3 * 24 * 60}).where(
        Machine.id == world.ids["printer"])
    booking = (await book(client, world, days_ahead=2)).json()
    late = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world.auth("maker"))
    assert late.status_code == 422 and late.json()["code"] == "cancel_deadline_passed"
    desk = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world.auth("animator"))
    assert desk.status_code == 200 and desk.json()["status"] == "cancelled"


async def test_nobody_else_sees_or_cancels_a_booking(client, world):
    booking = (await book(client, world)).json()
    for who in ("newbie", "stranger"):
        seen = await client.get(f"/api/v1/bookings/{booking['id']}", headers=world.auth(who))
        assert seen.status_code == 404
        cancel = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world.auth(who))
        assert cancel.status_code == 404
    listed = await client.get("/api/v1/bookings", headers=world.auth("newbie"))
    assert listed.json() == []
    by_site = await client.get("/api/v1/bookings?site=atelier", headers=world.auth("stranger"))
    assert by_site.json() == []
    assert (await client.get(f"/api/v1/bookings/{booking['id']}", headers=world.auth("animator"))).status_code == 200
    assert (await client.get(f"/api/v1/bookings/{booking['id']}", headers=world.auth("admin"))).status_code == 200


async def test_animator_lists_the_bookings_of_their_site(client, world):
    await book(client, world)
    listed = await client.get("/api/v1/bookings?site=atelier", headers=world.auth("animator"))
    assert [b["maker_username"] for b in listed.json()] == ["maker"]
    start, end = local_slot(2, "00:00", 24 * 60)
    ranged = await client.get("/api/v1/bookings", params={"machine": world.ids["printer"],
                                                          "start": start, "end": end},
                              headers=world.auth("animator"))
    assert len(ranged.json()) == 1
    start, end = local_slot(3, "00:00", 24 * 60)
    other_day = await client.get("/api/v1/bookings", params={"site": "atelier", "start": start,
                                                             "end": end}, headers=world.auth("animator"))
    assert other_day.json() == []


async def test_availability_shows_busy_and_free_time_without_names(client, world):
    await book(client, world, start="10:00", minutes=60)
    start, end = local_slot(2, "00:00", 24 * 60)
    response = await client.get(f"/api/v1/machines/{world.ids['printer']}/availability",
                                params={"start": start, "end": end})
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "Europe/Paris" and body["slot_minutes"] == 15
    assert len(body["busy"]) == 1 and "maker" not in str(body)
    # open 08:00–20:00 with 10:00–11:00 taken: two free pieces around it
    assert len(body["free"]) == 2
    assert body["free"][0]["end"] == body["busy"][0]["start"]
    assert body["free"][1]["start"] == body["busy"][0]["end"]


async def test_site_availability_lists_every_machine(client, world):
    start, end = local_slot(2, "00:00", 24 * 60)
    response = await client.get("/api/v1/sites/atelier/availability", params={"start": start, "end": end})
    assert response.status_code == 200
    assert {m["machine_id"] for m in response.json()} == {world.ids["printer"], world.ids["laser"]}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2030-01-01T10:00:00", "end": "2030-01-02T10:00:00+01:00"}, "naive_datetime"),
        ({"start": "tomorrow", "end": "2030-01-02T10:00:00+01:00"}, "invalid_datetime"),
        ({"start": "2030-01-02T10:00:00+01:00", "end": "2030-01-01T10:00:00+01:00"}, "invalid_range"),
        ({"start": "2030-01-01T10:00:00+01:00", "end": "2030-06-01T10:00:00+01:00"}, "range_too_long"),
    ],
)
async def test_availability_refuses_bad_ranges(client, world, params, code):
    response = await client.get(f"/api/v1/machines/{world.ids['printer']}/availability", params=params)
    assert response.status_code == 422 and response.json()["code"] == code


async def test_availability_accepts_a_plus_sign_lost_in_the_query_string(client, world):
    start, end = local_slot(2, "00:00", 24 * 60)
    url = f"/api/v1/machines/{world.ids['printer']}/availability?start={start}&end={end}"
    response = await client.get(url)  # '+01:00' unescaped: decoded as a space
    assert response.status_code == 200, response.text


def _next_last_sunday(month: int) -> date:
    """The next last Sunday of ``month`` (March or October: Europe's clock changes) that is
    at least two days away, whatever today is."""
    today = datetime.now(UTC).date()
    for year in (today.year, today.year + 1):
        last = date(year, month + 1, 1) - timedelta(days=1)
        sunday = last - timedelta(days=(last.weekday() - 6) % 7)
        if sunday > today + timedelta(days=1):
            return sunday
    raise AssertionError("unreachable")


async def test_booking_across_daylight_saving_change_is_stored_in_utc(client, world):
    """The last Sunday of October in Paris: 10:00 local is 09:00 UTC (CET, +01:00)."""
    await Machine.update({Machine.max_days_ahead: 800}).where(Machine.id == world.ids["printer"])
    october = _next_last_sunday(10).isoformat()
    body = {"machine_id": world.ids["printer"], "start": f"{october}T10:00:00+01:00",
            "end": f"{october}T11:00:00+01:00"}
    response = await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))
    assert response.status_code == 201, response.text
    assert response.json()["start"] == f"{october}T09:00:00Z"
    # the last Sunday of March: 10:00 local is 08:00 UTC (CEST, +02:00)
    march = _next_last_sunday(3).isoformat()
    body = {"machine_id": world.ids["printer"], "start": f"{march}T08:00:00Z", "end": f"{march}T09:00:00Z"}
    response = await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))
    assert response.status_code == 201, response.text
    # 07:30 local that day (05:30 UTC) is before opening
    body = {"machine_id": world.ids["printer"], "start": f"{march}T05:30:00Z", "end": f"{march}T06:30:00Z"}
    response = await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))
    assert response.json()["code"] == "outside_opening_hours"
