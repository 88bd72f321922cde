"""The demo network has workshops: logged ones with attendance over two months, upcoming
public ones holding their machines, one with 8 places and registrations; loading twice adds
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.demo import load_demo
from fabbooking.workshops.tables import Attendance, Registration, Workshop

pytestmark = pytest.mark.anyio


async def test_demo_workshops_are_there_once(client, db):
    await load_demo()
    workshops = await Workshop.select().order_by(Workshop.starts_at)
    now = datetime.now(UTC)
    done = [w for w in workshops if w["status"] == "done"]
    planned = [w for w in workshops if w["status"] == "planned"]
    assert len(done) >= 3 and all(w["ends_at"] < now for w in done)
    assert len({w["site"] for w in done}) >= 3
    assert await Attendance.count() >= 2 * len(done)
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
