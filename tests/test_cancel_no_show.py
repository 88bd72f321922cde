"""A booking released as a no-show has nothing left to cancel: the maker's page, the desk and
the API say so in a sentence (it was a 500: the refusal's « status » was taken for the HTTP
status)."""

from __future__ import annotations

import pytest

from fabbooking.bookings.tables import Booking
from tests.test_web_desk import DESK, insert_booking, log_in, post_form, text_of

pytestmark = pytest.mark.anyio


async def _released(world) -> int:
    booking_id = await insert_booking(world.ids["printer"], world.ids["maker"], world.ids["maker"], 1, "10:00")
    await Booking.update({Booking.status: "no_show"}).where(Booking.id == booking_id)
    return booking_id


async def test_the_api_refuses_to_cancel_a_released_booking_with_a_sentence(client, world):
    booking_id = await _released(world)
    for who in ("maker", "animator"):
        response = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=world.auth(who))
        assert response.status_code == 409
        assert response.json()["code"] == "not_cancellable"
        assert "personne n'est venu" in response.json()["detail"]
    english = await client.post(f"/api/v1/bookings/{booking_id}/cancel?lang=en", headers=world.auth("maker"))
    assert "nobody came" in english.json()["detail"]
    assert (await Booking.select(Booking.status).where(Booking.id == booking_id).first())["status"] == "no_show"


async def test_the_pages_refuse_to_cancel_a_released_booking_with_a_sentence(client, world):
    booking_id = await _released(world)
    await log_in(client, "maker")
    page = await post_form(client, f"/me/bookings/{booking_id}/cancel", {})
    assert page.status_code == 409 and "personne n'est venu" in text_of(page)
    await log_in(client, "animator")
    desk = await post_form(client, f"{DESK}/bookings/{booking_id}/cancel", {})
    assert desk.status_code in (303, 409)
    shown = text_of(await client.get(desk.headers["location"])) if desk.status_code == 303 else text_of(desk)
    assert "personne n'est venu" in shown
    assert (await Booking.select(Booking.status).where(Booking.id == booking_id).first())["status"] == "no_show"
