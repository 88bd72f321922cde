"""A maker with a long history still sees every booking to come, first, and pages through
the past newest first (a list sorted oldest first and cut at 1,000 hid the upcoming ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.bookings.tables import Booking
from tests.conftest import World, booking_body
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio

HISTORY = 1_100


async def _long_history(world: World) -> list[datetime]:
    """HISTORY past bookings of the maker, one a day back from yesterday; their starts,
    newest first."""
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    starts = [yesterday - timedelta(days=n) for n in range(HISTORY)]
    await Booking.insert(*[
        Booking(machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
                start_at=start, end_at=start + timedelta(hours=1),
                status="no_show" if n % 10 == 0 else "confirmed")
        for n, start in enumerate(starts)])
    return starts


async def _book(client, world: World, days_ahead: int) -> int:
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                 json=booking_body(world.ids["printer"], days_ahead))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_upcoming_bookings_come_first_whatever_the_history(client, world):
    starts = await _long_history(world)
    upcoming = [await _book(client, world, days) for days in (3, 2)]
    response = await client.get("/api/v1/bookings?mine=true", headers=world.auth("maker"))
    assert response.status_code == 200
    listed = response.json()
    assert [b["id"] for b in listed[:2]] == sorted(upcoming, reverse=True), "every upcoming one, soonest first"
    past = listed[2:]
    assert len(past) == 50
    assert [datetime.fromisoformat(b["start"]) for b in past] == starts[:50], "then the past, newest first"

    older = (await client.get("/api/v1/bookings?mine=true&past_page=1", headers=world.auth("maker"))).json()
    assert [datetime.fromisoformat(b["start"]) for b in older] == starts[50:100]
    last = HISTORY // 50 - 1
    oldest = (await client.get(f"/api/v1/bookings?mine=true&past_page={last}", headers=world.auth("maker"))).json()
    assert datetime.fromisoformat(oldest[-1]["start"]) == starts[-1]
    beyond = await client.get(f"/api/v1/bookings?mine=true&past_page={last + 1}", headers=world.auth("maker"))
    assert beyond.json() == []


async def test_my_bookings_page_shows_what_is_to_come_and_pages_the_past(client, world):
    await _long_history(world)
    upcoming = await _book(client, world, 2)
    second_page = (await client.get("/api/v1/bookings?mine=true", headers=world.auth("maker"))).json()[11:21]
    await browser_login(client, "maker")
    first = await client.get("/me/bookings")
    assert first.status_code == 200
    upcoming_part, _, past_part = first.text.partition("Passées et annulées")
    assert f'id="booking-{upcoming}"' in upcoming_part and "Annuler" in upcoming_part
    assert past_part.count('<li class="card"') == 10, "ten past bookings a page: short on a phone"
    assert 'href="/me/bookings?page=1"' in past_part
    second = await client.get("/me/bookings?page=1")
    assert second.status_code == 200
    assert "À venir" not in second.text and f'id="booking-{upcoming}"' not in second.text
    assert [f'id="booking-{b["id"]}"' in second.text for b in second_page] == [True] * 10
    assert 'href="/me/bookings"' in second.text and 'href="/me/bookings?page=2"' in second.text
    bad = await client.get("/me/bookings?page=-1")
    assert 400 <= bad.status_code < 500 and "Traceback" not in bad.text
