"""No-shows: a booked machine that reports its use and shows none within the grace period
frees the rest of the slot; a machine in use keeps its booking; a job past the end is an overrun."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Site
from fabbooking.usage.no_show import release_no_shows
from fabbooking.usage.recording import Incoming, record_batch
from fabbooking.usage.tables import UsageSession
from tests.usage_helpers import contract_event, now, topic, wire_gateway

pytestmark = pytest.mark.anyio


async def booked(world, minutes_ago: int, hours: int = 2) -> int:
    start = now() - timedelta(minutes=minutes_ago)
    rows = await Booking.insert(Booking(machine=world.ids["printer"], maker=world.ids["maker"],
                                        booked_by=world.ids["maker"], start_at=start,
                                        end_at=start + timedelta(hours=hours))).returning(Booking.id)
    return rows[0]["id"]


async def status(booking_id: int) -> str:
    return (await Booking.select(Booking.status).where(Booking.id == booking_id).first())["status"]


async def test_nobody_came_the_slot_is_freed_for_someone_else(client, world):
    await wire_gateway(world.ids["atelier"], "gw", world.ids["printer"])
    booking = await booked(world, minutes_ago=20)
    assert await release_no_shows(now()) == [booking]
    assert await status(booking) == "no_show"
    assert await release_no_shows(now()) == []  # once only
    # someone else can now book the rest of the slot
    await Site.update({Site.min_notice_minutes: 0}).where(Site.id == world.ids["atelier"])
    availability = await client.get(f"/api/v1/machines/{world.ids['printer']}/availability",
                                    params={"start": now().isoformat(), "end": (now() + timedelta(hours=2)).isoformat()})
    assert availability.json()["busy"] == []


async def test_within_the_grace_period_nothing_happens(world):
    await wire_gateway(world.ids["atelier"], "gw", world.ids["printer"])
    booking = await booked(world, minutes_ago=10)  # grace is 15 minutes by default
    assert await release_no_shows(now()) == []
    assert await status(booking) == "confirmed"


async def test_a_machine_without_a_device_never_marks_no_shows(world):
    booking = await booked(world, minutes_ago=40)
    assert await release_no_shows(now()) == []
    assert await status(booking) == "confirmed"


async def test_a_job_started_keeps_the_booking_and_running_past_the_end_is_an_overrun(world):
    await wire_gateway(world.ids["atelier"], "gw", world.ids["printer"])
    booking = await booked(world, minutes_ago=80, hours=1)
    start = now() - timedelta(minutes=80)
    where = topic("atelier", "gw", "printer")
    await record_batch([Incoming(where, contract_event("job_started", "j", start + timedelta(minutes=5)), now())], now())
    assert await release_no_shows(now()) == []
    await record_batch([Incoming(where, contract_event("job_finished", "j", now()), now())], now())
    session = await UsageSession.select().first()
    assert session["booking"] == booking and session["overrun"] is True
    assert await status(booking) == "confirmed"


async def test_no_show_and_grace_follow_the_site_setting(world):
    await wire_gateway(world.ids["atelier"], "gw", world.ids["printer"])
    await Site.update({Site.no_show_grace_minutes: 45}).where(Site.id == world.ids["atelier"])
    booking = await booked(world, minutes_ago=30)
    assert await release_no_shows(now()) == []
    assert await status(booking) == "confirmed"
