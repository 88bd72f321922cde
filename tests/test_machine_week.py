"""The machine's week: seven days from today, then the seven after, up to the booking
horizon; the week links keep their ids so htmx can give the focus back."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from fabbooking.bookings.schedule import shown_days
from fabbooking.web.formatting import short_day
from tests.conftest import PARIS

pytestmark = pytest.mark.anyio
SATURDAY = date(2026, 12, 5)
HORIZON = SATURDAY + timedelta(days=30)


def test_the_days_shown_start_today_even_on_a_saturday():
    assert shown_days(None, SATURDAY, HORIZON) == (SATURDAY, None, SATURDAY + timedelta(days=7))


def test_the_next_seven_days_and_back():
    first, previous, following = shown_days(SATURDAY + timedelta(days=7), SATURDAY, HORIZON)
    assert (first, previous, following) == (SATURDAY + timedelta(days=7), SATURDAY, SATURDAY + timedelta(days=14))


def test_a_day_in_the_past_or_past_the_horizon_is_brought_back_inside():
    assert shown_days(SATURDAY - timedelta(days=40), SATURDAY, HORIZON)[0] == SATURDAY
    last_first = HORIZON - timedelta(days=6)
    assert shown_days(date(2099, 1, 1), SATURDAY, HORIZON) == (last_first, last_first - timedelta(days=7), None)
    # a step back from an odd day never goes before today
    assert shown_days(SATURDAY + timedelta(days=3), SATURDAY, HORIZON)[1] == SATURDAY


def column_days(html: str) -> list[str]:
    head = html[html.index('<table class="week">'):html.index("</thead>")]
    return re.findall(r'<th scope="col">([^<]+)</th>', head)[1:]


async def test_the_machine_page_shows_today_and_the_six_days_after(client, world):
    today = datetime.now(PARIS).date()
    page = (await client.get(f"/machines/{world.ids['printer']}")).text
    assert column_days(page) == [short_day(today + timedelta(days=n)) for n in range(7)]
    assert 'id="week-previous" class="button secondary" role="link" aria-disabled="true"' in page
    following = today + timedelta(days=7)
    assert f'id="week-next" class="button secondary" href="/machines/{world.ids["printer"]}?week={following}"' in page

    piece = await client.get(f"/machines/{world.ids['printer']}?week={following}", headers={"HX-Request": "true"})
    assert "<html" not in piece.text and column_days(piece.text)[0] == short_day(following)
    assert f'id="week-previous" class="button secondary" href="/machines/{world.ids["printer"]}?week={today}"' in piece.text
    assert 'id="week-next"' in piece.text
