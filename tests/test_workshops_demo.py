"""The demo network has workshops: logged ones with attendance over the last six weeks, upcoming
public ones holding their machines, one with 8 places and registrations; loading twice adds
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.demo import load_demo
from fabbooking.workshops.demo import LOGGED
from fabbooking.workshops.tables import Attendance, Registration, Workshop

pytestmark = pytest.mark.anyio


async def test_demo_workshops_are_there_once(client, db):
    await load_demo()
    workshops = await Workshop.select().order_by(Workshop.starts_at)
    now = datetime.now(UTC)
    done = [w for w in workshops if w["status"] == "done"]
    planned = [w for w in workshops if w["status"] == "planned"]
    # every logged workshop the demo declares is there, whatever the day and hour it ran
    assert sorted(w["title"] for w in done) == sorted(entry[3] for entry in LOGGED)
    assert all(w["ends_at"] < now for w in done)
    assert len({w["site"] for w in done}) >= 3
    assert await Attendance.count() == sum(len(entry[-1]) for entry in LOGGED)
    assert len(planned) == 3 and all(w["public"] and w["starts_at"] > now for w in planned)
    with_places = [w for w in planned if w["registration"]]
    assert [w["capacity"] for w in with_places] == [8]
    assert await Registration.count().where(Registration.workshop == with_places[0]["id"]) == 3
    holds = await Booking.count().where((Booking.purpose == "workshop") & (Booking.status == "confirmed"))
    assert holds == 2

    calendar = (await client.get("/api/v1/workshops")).json()
    assert [w["id"] for w in calendar] == [w["id"] for w in planned]
    assert calendar[[w["id"] for w in planned].index(with_places[0]["id"])]["places_left"] == 5

    await load_demo()
    assert await Workshop.count() == len(workshops)
    assert await Registration.count() == 3


# Days on which a date-dependent demo broke before: the first and last day of a month, a
# Sunday (the places are closed), New Year's Eve, and both daylight-saving changes in Paris.
AWKWARD_DAYS = [
    "2027-03-01T07:30:00+01:00", "2027-01-31T22:45:00+01:00", "2026-12-06T12:00:00+01:00",
    "2026-12-31T23:30:00+01:00", "2027-03-28T02:30:00+01:00", "2027-10-31T02:30:00+01:00",
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the dates are Python's, not the database's
@pytest.mark.parametrize("moment", AWKWARD_DAYS)
async def test_demo_loads_whole_on_any_day(client, db, moment):
    """Loaded on an awkward day, the demo still has every logged workshop, three upcoming
    ones, bookings to come and last month's figures to show."""
    import time_machine

    with time_machine.travel(datetime.fromisoformat(moment), tick=True):
        await load_demo()
        now = datetime.now(UTC)
        done = await Workshop.select(Workshop.title).where(Workshop.status == "done")
        assert sorted(w["title"] for w in done) == sorted(entry[3] for entry in LOGGED)
        assert await Workshop.count().where(
            (Workshop.status == "planned") & (Workshop.starts_at > now)) == 3
        assert await Booking.count().where(
            (Booking.purpose == "maker") & (Booking.start_at > now) & (Booking.status == "confirmed")) >= 4
        last_month = (await client.get("/api/v1/figures")).json()["rows"][-1]
        assert last_month["bookings"] > 0 and last_month["workshops_held"] >= 2, last_month
