"""The booking form says when the booking ends and until when it can be cancelled online;
past that deadline no page offers « Annuler » to the maker, and each says whom to ask."""

from __future__ import annotations

import html as html_lib
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.bookings.tables import Booking
from tests.conftest import local_slot
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio


def text(response) -> str:
    return html_lib.unescape(response.text)


async def book_directly(world, start: datetime, minutes: int = 60) -> int:
    rows = await Booking.insert(Booking(
        machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
        start_at=start, end_at=start + timedelta(minutes=minutes))).returning(Booking.id)
    return rows[0]["id"]


async def test_the_form_says_the_end_and_the_cancel_deadline(client, world):
    await browser_login(client, "maker")
    start, _ = local_slot(2, "10:00")
    form = text(await client.get(f"/machines/{world.ids['printer']}/book?start={start.replace('+', '%2B')}"))
    assert "En commençant à 10:00 pour 1 h, vous finissez à 11:00." in form
    assert "Vous pouvez annuler en ligne jusqu'à 09:00." in form


async def test_htmx_redraws_the_summary_for_the_start_and_duration_chosen(client, world):
    await browser_login(client, "maker")
    cell, _ = local_slot(2, "10:00")
    chosen, _ = local_slot(2, "10:15")
    piece = await client.get(f"/machines/{world.ids['printer']}/book", headers={"HX-Request": "true"},
                             params={"cell": cell, "start": chosen, "minutes": "90", "note": "x"})
    assert piece.status_code == 200 and "<html" not in piece.text
    assert "En commençant à 10:15 pour 1 h 30, vous finissez à 11:45." in text(piece)
    assert "jusqu'à 09:15." in text(piece)
    # a duration that is not offered falls back to the hour, never to something unbookable
    odd = await client.get(f"/machines/{world.ids['printer']}/book",
                           params={"cell": cell, "start": "nonsense", "minutes": "99999"})
    assert "En commençant à 10:00 pour 1 h, vous finissez à 11:00." in text(odd)


async def test_a_booking_past_its_deadline_offers_no_cancel_but_whom_to_ask(client, world):
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=30)
    late = await book_directly(world, soon)
    later = await book_directly(world, soon + timedelta(days=3))
    await browser_login(client, "maker")

    mine = text(await client.get("/me/bookings"))
    late_card = mine[mine.index(f'id="booking-{late}"'):]
    late_card = late_card[:late_card.index("</li>")]
    assert "/cancel" not in late_card
    assert "Il est trop tard pour l'annuler en ligne" in late_card
    assert "prévenez l'accueil de <a href=\"/sites/atelier\">Atelier</a>" in late_card
    later_card = mine[mine.index(f'id="booking-{later}"'):]
    assert f'href="/me/bookings/{later}/cancel"' in later_card[:later_card.index("</li>")]

    page = text(await client.get(f"/me/bookings/{late}/cancel"))
    assert "Oui, annuler" not in page and "Il est trop tard pour l'annuler en ligne" in page
    refused = await submit(client, f"/me/bookings/{late}/cancel", {})
    assert refused.status_code == 422 and "Oui, annuler" not in refused.text
    assert (await Booking.select(Booking.status).where(Booking.id == late).first())["status"] == "confirmed"


async def test_the_sites_team_may_still_cancel_past_the_deadline(client, world):
    late = await book_directly(world, datetime.now(UTC) + timedelta(minutes=30))
    await browser_login(client, "animator")
    assert "Oui, annuler" in text(await client.get(f"/me/bookings/{late}/cancel"))
