"""The desk as separate pages: today first, then a person, booking for them with the
machine's free stretches, trainings, machines and closures; the chosen person stays chosen
from one page and one step to the next; finding a person works with and without htmx."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta

import pytest

from fabbooking.bookings.tables import Booking
from tests.conftest import PARIS
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio
DESK = "/desk/atelier"
SECTIONS = ["", "/person", "/book", "/training", "/machines", "/closures"]


def text_of(response) -> str:
    return html.unescape(response.text)


def tomorrow():
    return datetime.now(PARIS).date() + timedelta(days=1)


async def book_tomorrow(world, start: str, minutes: int = 60) -> None:
    begin = datetime.combine(tomorrow(), time.fromisoformat(start), tzinfo=PARIS)
    await Booking.insert(Booking(machine=world.ids["printer"], maker=world.ids["newbie"],
                                 booked_by=world.ids["newbie"], start_at=begin,
                                 end_at=begin + timedelta(minutes=minutes)))


async def test_each_section_is_its_own_page_and_carries_the_chosen_person(client, world):
    await browser_login(client, "animator")
    maker = world.ids["maker"]
    for section in SECTIONS:
        page = text_of(await client.get(f"{DESK}{section}?maker={maker}"))
        current = re.findall(r'<a href="([^"]+)" aria-current="page">', page)
        assert current == [f"{DESK}{section}?maker={maker}"], section
        for other in SECTIONS:
            assert f'href="{DESK}{other}?maker={maker}"' in page, (section, other)
    today = text_of(await client.get(DESK))
    assert "Aujourd'hui" in today and 'id="person-search"' not in today and 'id="book-machine"' not in today


async def test_booking_for_someone_shows_the_machines_free_stretches_that_day(client, world):
    await book_tomorrow(world, "10:00")
    await book_tomorrow(world, "15:00", 90)
    await browser_login(client, "animator")
    maker, printer, day = world.ids["maker"], world.ids["printer"], tomorrow().isoformat()

    page = text_of(await client.get(f"{DESK}/book?maker={maker}&machine={printer}&day={day}"))
    stretches = re.findall(r'<a class="free" href="([^"]+)#book-form"[^>]*>([^<]+)</a>', page)
    assert [label for _, label in stretches] == ["de 08:00 à 10:00", "de 11:00 à 15:00", "de 16:30 à 20:00"]
    assert stretches[1][0] == f"{DESK}/book?maker={maker}&machine={printer}&day={day}&start=11:00"

    chosen = text_of(await client.get(stretches[1][0]))
    assert '<option value="11:00" selected>' in chosen
    assert f'name="maker_id" value="{maker}"' in chosen and f'name="machine_id" value="{printer}"' in chosen
    booked = await submit(client, f"{DESK}/bookings", {"maker_id": maker, "machine_id": printer, "day": day,
                                                       "start": "11:00", "minutes": "60", "note": ""}, page=DESK)
    assert booked.status_code == 303
    after = text_of(await client.get(booked.headers["location"]))
    assert "C'est réservé : Printer pour Maker" in after
    assert "de 12:00 à 15:00" in after and f'name="maker_id" value="{maker}"' in after


async def test_a_refused_booking_keeps_the_person_machine_day_and_start(client, world):
    await book_tomorrow(world, "10:00")
    await browser_login(client, "animator")
    maker, printer, day = world.ids["maker"], world.ids["printer"], tomorrow().isoformat()
    refused = await submit(client, f"{DESK}/bookings", {"maker_id": maker, "machine_id": printer, "day": day,
                                                        "start": "09:30", "minutes": "60", "note": "x"}, page=DESK)
    assert refused.status_code == 409
    page = text_of(refused)
    assert 'role="alert"' in page
    assert f'name="maker_id" value="{maker}"' in page and '<option value="09:30" selected>' in page
    assert "de 08:00 à 10:00" in page  # the free stretches of that very machine and day
    assert await Booking.count() == 1


async def test_finding_a_person_without_and_with_htmx(client, world):
    await browser_login(client, "animator")
    page = text_of(await client.get(f"{DESK}/person?q=newb&then=book"))
    assert f'href="{DESK}/book?maker={world.ids["newbie"]}"' in page
    assert 'name="then" value="book"' in page  # the search and the new account go on to booking

    piece = await client.get(f"{DESK}/person?q=newb&then=book", headers={"HX-Request": "true"})
    assert piece.text.lstrip().startswith('<div id="person-results"') and "<form" not in piece.text
    assert f'href="{DESK}/book?maker={world.ids["newbie"]}"' in piece.text
    nobody = await client.get(f"{DESK}/person?q=zzz", headers={"HX-Request": "true"})
    assert "Personne ne correspond à « zzz »" in text_of(nobody)

    created = await submit(client, f"{DESK}/accounts", {"display_name": "Ana", "username": "ana",
                                                        "password": "un-secret", "then": "book"}, page=DESK)
    assert re.fullmatch(rf"{DESK}/book\?maker=\d+&done=account#done", created.headers["location"])


async def test_the_old_search_address_leads_to_the_person_page(client, world):
    await browser_login(client, "animator")
    response = await client.get(f"{DESK}?q=new%20b")
    assert response.status_code == 303 and response.headers["location"] == f"{DESK}/person?q=new%20b"


async def test_an_animator_of_another_site_sees_none_of_the_pages(client, world):
    await browser_login(client, "stranger")
    for section in SECTIONS:
        assert (await client.get(f"{DESK}{section}")).status_code == 403, section
