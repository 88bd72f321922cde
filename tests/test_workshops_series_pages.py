"""Recurring workshops from the desk, without JavaScript: the form, a preview listing every
date and its conflicts before anything is written, skip or all-or-nothing, the series' page,
cancelling the series; only the site's team."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Site
from fabbooking.workshops.tables import Workshop, WorkshopSeries
from tests.web_helpers import browser_login, submit
from tests.workshops_support import local_moment

pytestmark = pytest.mark.anyio

NEW = "/desk/atelier/workshops/series/new"
PREVIEW = "/desk/atelier/workshops/series/preview"
PLAN = "/desk/atelier/workshops/series"


@pytest.fixture
async def desk(client, world):
    await Site.update({Site.max_days_ahead: 366}).where(Site.id == world.ids["atelier"])
    await browser_login(client, "animator")
    return world


def series_form(world, **values) -> dict:
    first = local_moment(3, "14:00")
    return {"title": "Atelier du mercredi", "day": first.date().isoformat(), "start": "14:00",
            "end": "16:00", "public": "on", "frequency": "weekly",
            "until": (first + timedelta(weeks=3)).date().isoformat(),
            "machine_ids": [str(world.ids["printer"])], **values}


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return [(html.unescape(n), html.unescape(v))
            for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)]


async def maker_books(client, world, days: int) -> None:
    begin = local_moment(days, "15:00")
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"), json={
        "machine_id": world.ids["printer"], "start": begin.isoformat(),
        "end": (begin + timedelta(hours=1)).isoformat()})
    assert response.status_code == 201, response.text


async def test_the_form_asks_how_the_workshop_repeats(client, desk):
    workshops = await client.get("/desk/atelier/workshops")
    assert f'href="{NEW}"' in workshops.text
    page = (await client.get(NEW)).text
    for field in ("series-weekly", "series-fortnightly", "series-chosen", "series-until", "series-dates"):
        assert f'id="{field}"' in page
    assert '<label for="series-until">' in page and '<label for="series-dates">' in page
    assert f'action="{PREVIEW}"' in page


async def test_preview_lists_conflicts_with_who_holds_them_and_writes_nothing(client, desk):
    await maker_books(client, desk, days=10)
    response = await submit(client, PREVIEW, series_form(desk), page=NEW)
    assert response.status_code == 200, response.text
    page = html.unescape(response.text)
    assert "Rien n'est encore enregistré" in page and "1 date en conflit" in page
    assert page.count('class="series-conflict"') == 1
    assert "Printer : déjà réservée par Maker." in " ".join(page.split())
    assert 'value="skip"' in page and 'value="refuse"' in page
    assert await WorkshopSeries.count() == 0 and await Workshop.count() == 0


async def test_skipping_the_conflicts_from_the_preview_plans_the_other_dates(client, desk):
    await maker_books(client, desk, days=10)
    preview = await submit(client, PREVIEW, series_form(desk), page=NEW)
    fields = hidden_fields(preview.text)
    assert ("machine_ids", str(desk.ids["printer"])) in fields
    form: dict = {}
    for name, value in fields:
        form.setdefault(name, []).append(value)
    form = {k: v if k == "machine_ids" else v[0] for k, v in form.items()}
    response = await submit(client, PLAN, {**form, "on_conflict": "skip"}, page=NEW)
    assert response.status_code == 303, response.text
    assert await Workshop.count() == 3
    series_page = await client.get(response.headers["location"])
    assert series_page.status_code == 200
    assert "La série est prévue : 3 ateliers" in html.unescape(series_page.text)
    english = await client.get(response.headers["location"] + "&lang=en")
    assert "The series is planned: 3 workshops" in html.unescape(english.text)


async def test_all_or_nothing_with_a_conflict_comes_back_to_the_preview(client, desk):
    await maker_books(client, desk, days=10)
    response = await submit(client, PLAN, {**series_form(desk), "on_conflict": "refuse"}, page=NEW)
    assert response.status_code == 409
    assert "Rien n'a été enregistré : 1 date(s) en conflit" in html.unescape(response.text)
    assert 'class="series-conflict"' in response.text
    assert await Workshop.count() == 0 and await Booking.count() == 1


@pytest.mark.parametrize(("values", "field"), [
    ({"until": ""}, "series-until"),
    ({"frequency": "dates", "dates": "demain\n32/13/2027"}, "series-dates"),
    ({"frequency": "sometimes"}, "series-weekly"),
])
async def test_a_wrong_field_comes_back_with_what_to_correct(client, desk, values, field):
    response = await submit(client, PREVIEW, series_form(desk, **values), page=NEW)
    assert response.status_code == 422
    assert f'aria-describedby="{field}-error"' in response.text
    assert await WorkshopSeries.count() == 0


async def test_a_series_that_cannot_be_planned_says_why_on_the_form(client, desk):
    response = await submit(client, PREVIEW, series_form(desk, until="2099-01-01"), page=NEW)
    assert response.status_code == 422
    assert "366 jours au plus" in html.unescape(response.text)


async def test_cancelling_the_series_from_its_page(client, desk):
    response = await submit(client, PLAN, {**series_form(desk), "on_conflict": "refuse"}, page=NEW)
    assert response.status_code == 303, response.text
    location = response.headers["location"].split("?")[0]
    confirm = await client.get(location + "/cancel")
    assert "4 ateliers à venir sont annulés" in html.unescape(confirm.text)
    done = await submit(client, location + "/cancel", {}, page=location)
    assert done.status_code == 303
    assert await Workshop.count().where(Workshop.status == "cancelled") == 4
    assert await Booking.count().where(Booking.status == "confirmed") == 0


async def test_another_sites_animator_sees_no_series_page(client, desk):
    response = await submit(client, PLAN, {**series_form(desk), "on_conflict": "refuse"}, page=NEW)
    location = response.headers["location"].split("?")[0]
    await browser_login(client, "stranger")
    for url in (NEW, location, location + "/cancel"):
        assert (await client.get(url)).status_code in (403, 404), url
    assert (await submit(client, PREVIEW, series_form(desk), page="/")).status_code == 403
    assert (await submit(client, location + "/cancel", {}, page="/")).status_code in (403, 404)
    other_site = location.replace("/desk/atelier/", "/desk/ailleurs/")
    assert (await client.get(other_site)).status_code == 404
    assert await Workshop.count().where(Workshop.status == "planned") == 4
