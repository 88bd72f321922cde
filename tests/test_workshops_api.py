"""The workshops API: planning holds machines through the booking rules, permissions per site,
attendance checked before anything is written, registrations with a waiting list."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from fabbooking.accounts.services import viewer_for
from fabbooking.accounts.tables import Account
from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Staff
from fabbooking.usage.no_show import release_no_shows
from fabbooking.usage.tables import Telemetry
from fabbooking.workshops import registrations, services
from fabbooking.workshops.tables import (
    Attendance,
    Registration,
    Workshop,
    WorkshopMachine,
)
from tests.conftest import booking_body, qualify
from tests.workshops_support import local_moment, log_body, plan_body, utc_now

pytestmark = pytest.mark.anyio


async def plan(client, world, who="animator", **body):
    response = await client.post("/api/v1/workshops", json=plan_body(**body), headers=world.auth(who))
    assert response.status_code == 201, response.text
    return response.json()


async def test_planned_workshop_blocks_a_makers_booking_of_its_machine(client, world):
    workshop = await plan(client, world, machine_ids=[world.ids["printer"]])
    assert [m["name"] for m in workshop["machines"]] == ["Printer"]
    overlapping = booking_body(world.ids["printer"], days_ahead=3, start="15:00")
    response = await client.post("/api/v1/bookings", json=overlapping, headers=world.auth("maker"))
    assert response.status_code == 409
    assert response.json()["code"] == "overlap"
    hold = await Booking.select().where(Booking.machine == world.ids["printer"]).first()
    assert hold["purpose"] == "workshop" and hold["status"] == "confirmed"


async def test_workshop_over_an_existing_booking_is_refused_and_nothing_is_written(client, world):
    taken = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                              json=booking_body(world.ids["printer"], days_ahead=3, start="15:00"))
    assert taken.status_code == 201
    response = await client.post(
        "/api/v1/workshops", headers=world.auth("animator"),
        json=plan_body(machine_ids=[world.ids["laser"], world.ids["printer"]]))
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "workshop_machine_refused"
    assert "Printer" in body["detail"] and "déjà réservé" in body["detail"]
    assert await Workshop.count() == 0
    assert await WorkshopMachine.count() == 0
    assert await Booking.count() == 1  # the laser's hold was undone too


async def test_workshop_in_a_closed_slot_says_which_machine_and_why(client, world):
    response = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                 json=plan_body(start="19:00", machine_ids=[world.ids["laser"]]))
    assert response.status_code == 422
    assert "Laser" in response.json()["detail"] and "ouvert" in response.json()["detail"]
    assert await Workshop.count() == 0


async def test_workshop_holds_take_none_of_a_persons_quota(client, world):
    for day in range(1, 6):  # more than the 3 future bookings a person may hold
        await plan(client, world, days=day, machine_ids=[world.ids["printer"]])
    assert await Booking.count().where(Booking.purpose == "workshop") == 5
    # the animator leaves the team: as a plain maker, the 5 holds in their name take none
    # of the 3 future bookings they may now hold at the site
    await Staff.delete().where(Staff.account == world.ids["animator"])
    await Account.update({Account.role: "maker"}).where(Account.id == world.ids["animator"])
    await qualify(world.ids["animator"], world.ids["laser_training"])
    for day in (1, 2, 4):
        response = await client.post("/api/v1/bookings", headers=world.auth("animator"),
                                     json=booking_body(world.ids["laser"], days_ahead=day))
        assert response.status_code == 201, response.text


async def test_a_workshop_hold_is_never_released_as_a_no_show(client, world):
    workshop = await plan(client, world, machine_ids=[world.ids["printer"]])  # day 3, 14:00-16:00
    begin = local_moment(3, "14:00")
    rows = await Booking.insert(Booking(
        machine=world.ids["laser"], maker=world.ids["maker"], booked_by=world.ids["maker"],
        start_at=begin, end_at=begin + timedelta(hours=2))).returning(Booking.id)
    # both machines report their use, and neither is used past the grace period
    await Telemetry.insert(Telemetry(machine=world.ids["printer"]), Telemetry(machine=world.ids["laser"]))
    released = await release_no_shows(local_moment(3, "14:40"))
    assert released == [rows[0]["id"]]  # the maker's booking, not the workshop's hold
    hold = await Booking.select(Booking.status).where(Booking.purpose == "workshop").first()
    assert hold["status"] == "confirmed" and workshop["status"] == "planned"


async def test_a_workshop_hold_is_not_in_the_animators_own_bookings_nor_cancellable_there(client, world):
    await plan(client, world, machine_ids=[world.ids["printer"]])
    hold = await Booking.select(Booking.id).where(Booking.purpose == "workshop").first()
    mine = await client.get("/api/v1/bookings?mine=true", headers=world.auth("animator"))
    assert mine.status_code == 200 and mine.json() == []
    refused = await client.post(f"/api/v1/bookings/{hold['id']}/cancel", headers=world.auth("animator"))
    assert refused.status_code == 409 and refused.json()["code"] == "held_for_workshop"
    still = await Booking.select(Booking.status).where(Booking.id == hold["id"]).first()
    assert still["status"] == "confirmed"


async def test_animator_of_another_site_cannot_touch_a_workshop(client, world):
    public = await plan(client, world, machine_ids=[world.ids["printer"]])
    private = await plan(client, world, days=4, public=False, notes="clé sous le pot")
    stranger = world.auth("stranger")
    for workshop, status in ((public, 403), (private, 404)):
        base = f"/api/v1/workshops/{workshop['id']}"
        assert (await client.patch(base, json={"title": "volé"}, headers=stranger)).status_code == status
        assert (await client.post(f"{base}/cancel", headers=stranger)).status_code == status
        assert (await client.post(f"{base}/attendance", json={"attendance": []},
                                  headers=stranger)).status_code == status
        assert (await client.get(f"{base}/registrations", headers=stranger)).status_code == status
    refused = await client.post("/api/v1/workshops", json=plan_body(), headers=stranger)
    assert refused.status_code == 403 and refused.json()["code"] == "not_staff_of_site"
    assert (await client.post("/api/v1/workshops", json=plan_body(site="ailleurs"),
                              headers=world.auth("maker"))).status_code == 403
    assert (await client.post("/api/v1/workshops", json=plan_body())).status_code == 401
    assert (await client.post("/api/v1/workshops/log", json=log_body(),
                              headers=world.auth("maker"))).status_code == 403
    assert (await Workshop.select(Workshop.title).where(Workshop.id == public["id"]).first())["title"] \
        == "Initiation impression 3D"
    assert await Workshop.count() == 2


async def test_an_animator_cannot_use_another_sites_machine_or_person(client, world):
    far = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                            json=plan_body(machine_ids=[world.ids["far_printer"]]))
    assert far.status_code == 422 and far.json()["code"] == "machine_not_of_site"
    outsider = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                 json=plan_body(animator_ids=[world.ids["stranger"]]))
    assert outsider.status_code == 422 and outsider.json()["code"] == "animator_not_of_site"
    assert await Workshop.count() == 0


async def test_moving_a_workshop_moves_its_holds_all_or_nothing(client, world):
    workshop = await plan(client, world, machine_ids=[world.ids["printer"]])
    new_start = local_moment(5, "10:00")
    moved = await client.patch(f"/api/v1/workshops/{workshop['id']}", headers=world.auth("animator"),
                               json={"start": new_start.isoformat(),
                                     "end": (new_start + timedelta(hours=2)).isoformat()})
    assert moved.status_code == 200, moved.text
    holds = await Booking.select().where(Booking.purpose == "workshop").order_by(Booking.id)
    assert [h["status"] for h in holds] == ["cancelled", "confirmed"]
    assert holds[1]["start_at"] == new_start
    # the old slot is free again for a maker
    assert (await client.post("/api/v1/bookings", headers=world.auth("maker"),
                              json=booking_body(world.ids["printer"], days_ahead=3, start="14:00"))
            ).status_code == 201
    # moving onto a maker's booking is refused and the workshop keeps its slot and hold
    back = await client.patch(f"/api/v1/workshops/{workshop['id']}", headers=world.auth("animator"),
                              json={"start": plan_body()["start"], "end": plan_body()["end"]})
    assert back.status_code == 409 and back.json()["code"] == "workshop_machine_refused"
    row = await Workshop.select().where(Workshop.id == workshop["id"]).first()
    assert row["starts_at"] == new_start
    assert await Booking.count().where((Booking.purpose == "workshop") & (Booking.status == "confirmed")) == 1


async def test_cancelling_a_workshop_frees_its_machines_and_cancels_registrations(client, world):
    workshop = await plan(client, world, machine_ids=[world.ids["printer"]], registration=True, capacity=5)
    url = f"/api/v1/workshops/{workshop['id']}"
    assert (await client.post(f"{url}/registrations", headers=world.auth("maker"))).status_code == 201
    response = await client.post(f"{url}/cancel", headers=world.auth("animator"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert (await Booking.select(Booking.status).first())["status"] == "cancelled"
    assert (await Registration.select(Registration.status).first())["status"] == "cancelled"
    again = await client.post(f"{url}/cancel", headers=world.auth("animator"))
    assert again.status_code == 409
    mine = (await client.get("/api/v1/workshops/my-registrations", headers=world.auth("maker"))).json()
    assert [(r["workshop_status"], r["status"]) for r in mine] == [("cancelled", "cancelled")]


async def test_registration_capacity_and_waiting_list_moving_up(client, world):
    workshop = await plan(client, world, registration=True, capacity=2)
    url = f"/api/v1/workshops/{workshop['id']}/registrations"
    first = await client.post(url, headers=world.auth("maker"))
    second = await client.post(url, headers=world.auth("newbie"))
    desk = await client.post(url, json={"name": "Madame Le Gall"}, headers=world.auth("animator"))
    later = await client.post(url, json={"name": "Monsieur Tanguy"}, headers=world.auth("animator"))
    assert [r.json()["status"] for r in (first, second, desk, later)] == \
        ["registered", "registered", "waiting", "waiting"]
    assert desk.json()["name"] == "Madame Le Gall" and desk.json()["account_id"] is None
    duplicate = await client.post(url, headers=world.auth("maker"))
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "already_registered"

    shown = (await client.get(f"/api/v1/workshops/{workshop['id']}")).json()
    assert (shown["registered"], shown["waiting"], shown["places_left"]) == (2, 2, 0)

    cancelled = await client.post(f"{url}/{first.json()['id']}/cancel", headers=world.auth("maker"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    listed = (await client.get(url, headers=world.auth("animator"))).json()
    assert [(r["name"], r["status"]) for r in listed] == [
        ("Newbie", "registered"), ("Madame Le Gall", "registered"),
        ("Monsieur Tanguy", "waiting"), ("Maker", "cancelled")]
    # someone else's registration is not yours to cancel
    assert (await client.post(f"{url}/{desk.json()['id']}/cancel",
                              headers=world.auth("newbie"))).status_code == 404
    # a larger capacity gives the place to the one still waiting
    grown = await client.patch(f"/api/v1/workshops/{workshop['id']}", json={"capacity": 3},
                               headers=world.auth("animator"))
    assert grown.json()["waiting"] == 0 and grown.json()["registered"] == 3
    shrunk = await client.patch(f"/api/v1/workshops/{workshop['id']}", json={"capacity": 1},
                                headers=world.auth("animator"))
    assert shrunk.status_code == 422 and shrunk.json()["code"] == "capacity_below_registered"


async def test_registration_rules(client, world):
    free_entry = await plan(client, world)
    response = await client.post(f"/api/v1/workshops/{free_entry['id']}/registrations",
                                 headers=world.auth("maker"))
    assert response.status_code == 422 and response.json()["code"] == "registration_off"
    workshop = await plan(client, world, days=4, registration=True, capacity=3)
    url = f"/api/v1/workshops/{workshop['id']}/registrations"
    assert (await client.post(url)).status_code == 401
    by_maker = await client.post(url, json={"name": "Quelqu'un"}, headers=world.auth("maker"))
    assert by_maker.status_code == 403
    empty = await client.post(url, json={"name": "  "}, headers=world.auth("animator"))
    assert empty.status_code == 422 and empty.json()["code"] == "registration_name_needed"
    assert (await client.get(url, headers=world.auth("maker"))).status_code == 403
    assert (await client.get(url)).status_code == 401
    no_capacity = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                    json=plan_body(registration=True))
    assert no_capacity.status_code == 422 and no_capacity.json()["code"] == "capacity_needed"


async def test_many_people_at_once_for_the_last_places(db, world):
    animator = await viewer_for(world.ids["animator"])
    start = local_moment(3, "14:00")
    workshop = await services.plan_workshop(animator, "atelier", services.WorkshopDraft(
        title="Dernières places", starts_at=start, ends_at=start + timedelta(hours=2),
        registration=True, capacity=3), utc_now())
    await registrations.register(animator, workshop["id"], utc_now(), name="Déjà là")
    results = await asyncio.gather(*[
        registrations.register(animator, workshop["id"], utc_now(), name=f"Personne {n}")
        for n in range(12)])
    statuses = [r["status"] for r in results]
    assert statuses.count("registered") == 2 and statuses.count("waiting") == 10
    assert await Registration.count().where(Registration.status == "registered") == 3
    # cancelling one place moves exactly the oldest waiting person up
    taken = next(r for r in results if r["status"] == "registered")
    await registrations.cancel_registration(animator, workshop["id"], taken["id"], utc_now())
    waiting = await Registration.select().where(Registration.workshop == workshop["id"]).order_by(
        Registration.created_at).order_by(Registration.id)
    first_waiting = next(r for r in sorted(results, key=lambda r: (r["created_at"], r["id"]))
                         if r["status"] == "waiting")
    assert next(r for r in waiting if r["id"] == first_waiting["id"])["status"] == "registered"
    assert await Registration.count().where(Registration.status == "registered") == 3


async def test_places_and_the_waiting_list_follow_the_order_of_arrival(db, world):
    """Each request is stamped before it waits for the workshop's lock; the one that got the
    lock first is the one that got there first, whatever time its request was stamped."""
    animator = await viewer_for(world.ids["animator"])
    start = local_moment(3, "14:00")
    workshop = await services.plan_workshop(animator, "atelier", services.WorkshopDraft(
        title="Dernières places", starts_at=start, ends_at=start + timedelta(hours=2),
        registration=True, capacity=2), utc_now())
    stamped = utc_now()
    # the later a request is in the list, the earlier it was stamped (it waited longer)
    results = await asyncio.gather(*[
        registrations.register(animator, workshop["id"], stamped - timedelta(seconds=n), name=f"Personne {n}")
        for n in range(8)])
    rows = await Registration.select().where(Registration.workshop == workshop["id"]).order_by(Registration.id)
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)  # in the lock's order
    registered = [r for r in rows if r["status"] == "registered"]
    waiting = [r for r in rows if r["status"] == "waiting"]
    assert len(registered) == 2 and len(waiting) == 6
    assert max(r["created_at"] for r in registered) <= min(r["created_at"] for r in waiting)
    # a place frees: the first person refused moves up, and then the next one
    await registrations.cancel_registration(animator, workshop["id"], registered[0]["id"], utc_now())

    async def statuses() -> list[str]:
        return [(await registrations.registration_row(r["id"]))["status"] for r in waiting]

    assert await statuses() == ["registered"] + ["waiting"] * 5
    await registrations.cancel_registration(animator, workshop["id"], registered[1]["id"], utc_now())
    assert await statuses() == ["registered"] * 2 + ["waiting"] * 4
    assert {r["id"] for r in results} == {r["id"] for r in rows}


@pytest.mark.parametrize("count, code, words", [
    ({"audience": "adults", "head_count": -2}, "head_count_invalid", "nombre entier"),
    ({"audience": "adults", "head_count": 3, "first_timers": 5}, "first_timers_over_head_count",
     "premières venues"),
    ({"audience": "martians", "head_count": 3}, "unknown_audience", "children, teens"),
    ({"audience": "teens", "head_count": 3, "first_timers": -1}, "first_timers_invalid", "0 ou plus"),
])
async def test_bad_attendance_is_refused_clearly_and_nothing_is_written(client, world, count, code, words):
    logged = await client.post("/api/v1/workshops/log", headers=world.auth("animator"),
                               json=log_body(attendance=[count]))
    assert logged.status_code == 422, logged.text
    assert logged.json()["code"] == code and words in logged.json()["detail"]
    assert await Workshop.count() == 0 and await Attendance.count() == 0

    begun = await Workshop.insert(Workshop(site=world.ids["atelier"], title="Commencé",
                                           starts_at=utc_now() - timedelta(hours=1),
                                           ends_at=utc_now() + timedelta(hours=1))
                                  ).returning(Workshop.id)
    url = f"/api/v1/workshops/{begun[0]['id']}/attendance"
    response = await client.post(url, headers=world.auth("animator"), json={"attendance": [count]})
    assert response.status_code == 422 and response.json()["code"] == code
    assert await Attendance.count() == 0
    assert (await Workshop.select(Workshop.status).where(Workshop.id == begun[0]["id"]).first()
            )["status"] == "planned"


async def test_logging_a_workshop_after_the_fact(client, world):
    body = log_body(attendance=[{"audience": "children", "head_count": 8, "first_timers": 8},
                                {"audience": "adults", "head_count": 2, "first_timers": 0},
                                {"audience": "seniors", "head_count": 0}],
                    machine_ids=[world.ids["printer"]], notes="Très bien passé")
    response = await client.post("/api/v1/workshops/log", headers=world.auth("animator"), json=body)
    assert response.status_code == 201, response.text
    workshop = response.json()
    assert workshop["status"] == "done" and workshop["public"] is False
    assert [(a["audience"], a["head_count"], a["first_timers"]) for a in workshop["attendance"]] == [
        ("children", 8, 8), ("adults", 2, 0)]
    assert workshop["machines"][0]["booking_id"] is None  # no hold in the past
    assert [a["name"] for a in workshop["animators"]] == ["Animator"]
    future = await client.post("/api/v1/workshops/log", headers=world.auth("animator"),
                               json={**log_body(), "start": plan_body()["start"], "end": plan_body()["end"]})
    assert future.status_code == 422 and future.json()["code"] == "workshop_in_future"


async def test_logging_attendance_of_a_planned_workshop_once_it_began(client, world):
    workshop = await plan(client, world)
    url = f"/api/v1/workshops/{workshop['id']}/attendance"
    early = await client.post(url, headers=world.auth("animator"),
                              json={"attendance": [{"audience": "adults", "head_count": 4}]})
    assert early.status_code == 422 and early.json()["code"] == "workshop_in_future"
    await Workshop.update({Workshop.starts_at: utc_now() - timedelta(hours=2),
                           Workshop.ends_at: utc_now() - timedelta(minutes=5)}).where(
        Workshop.id == workshop["id"])
    done = await client.post(url, headers=world.auth("animator"), json={
        "attendance": [{"audience": "teens", "head_count": 6, "first_timers": 4}],
        "machine_ids": [world.ids["laser"]], "notes": "Prévoir plus de contreplaqué"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["attendance"][0]["head_count"] == 6
    assert [m["name"] for m in done.json()["machines"]] == ["Laser"]
    assert (await client.post(f"/api/v1/workshops/{workshop['id']}/cancel",
                              headers=world.auth("animator"))).status_code == 422


async def test_public_listing_hides_private_workshops_and_staff_notes(client, world):
    public = await plan(client, world, notes="Code du portail 1234", registration=True, capacity=8)
    await plan(client, world, days=4, public=False, title="Réunion d'équipe")
    await client.post(f"/api/v1/workshops/{public['id']}/registrations",
                      json={"name": "Yvonne Secret"}, headers=world.auth("animator"))
    for headers in ({}, world.auth("maker"), world.auth("stranger")):
        listed = await client.get("/api/v1/workshops", headers=headers)
        assert [w["id"] for w in listed.json()] == [public["id"]]
        assert listed.json()[0]["notes"] is None and listed.json()[0]["places_left"] == 7
        assert "1234" not in listed.text and "Yvonne" not in listed.text
        shown = await client.get(f"/api/v1/workshops/{public['id']}", headers=headers)
        assert shown.json()["notes"] is None and shown.json()["animators"] is None
    staff = (await client.get("/api/v1/workshops?site=atelier", headers=world.auth("animator"))).json()
    assert [w["title"] for w in staff] == ["Initiation impression 3D", "Réunion d'équipe"]
    assert staff[0]["notes"] == "Code du portail 1234"
    ranged = await client.get("/api/v1/workshops", params={
        "from": local_moment(4, "00:00").isoformat(), "to": local_moment(6, "00:00").isoformat()})
    assert ranged.json() == []
    assert (await client.get("/api/v1/workshops?site=nowhere")).status_code == 404
    assert (await client.get("/api/v1/workshops?from=tomorrow")).status_code == 422


async def test_workshop_rules_refuse_bad_times_and_capacity(client, world):
    cases = [
        (plan_body(minutes=-30), "workshop_end_before_start"),
        (plan_body(minutes=14 * 60, start="06:00"), "workshop_too_long"),
        (plan_body(registration=True, capacity=0), "capacity_invalid"),
        (plan_body(title="   "), "workshop_title_needed"),
        (plan_body(days=-2), "workshop_in_past"),
    ]
    for body, code in cases:
        response = await client.post("/api/v1/workshops", json=body, headers=world.auth("animator"))
        assert response.status_code == 422 and response.json()["code"] == code, (code, response.text)
    assert await Workshop.count() == 0


async def test_openapi_documents_the_workshop_endpoints(client, world):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert {"/api/v1/workshops", "/api/v1/workshops/{workshop_id}",
            "/api/v1/workshops/{workshop_id}/registrations"} <= set(paths)
    assert {"401", "403", "404", "409", "422"} <= set(paths["/api/v1/workshops"]["post"]["responses"])
