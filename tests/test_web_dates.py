"""Dates as each language writes them (Babel), never lowered by Jinja's ``capitalize``:
"Monday 7 December" in English, « Lundi 7 décembre » opening a French sentence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fabbooking.web.formatting import day, sentence_start, weekday_name
from fabbooking.web.i18n import current_language
from tests.conftest import PARIS, local_slot
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio


def in_language(language: str, render):
    token = current_language.set(language)
    try:
        return render()
    finally:
        current_language.reset(token)


def test_a_sentence_start_keeps_the_month_as_each_language_writes_it():
    thursday = date(2026, 12, 10)
    assert in_language("en", lambda: sentence_start(day(thursday))) == "Thursday 10 December"
    assert in_language("fr", lambda: sentence_start(day(thursday))) == "Jeudi 10 décembre"
    assert in_language("fr", lambda: day(thursday)) == "jeudi 10 décembre"  # inside a sentence
    assert in_language("en", lambda: sentence_start(weekday_name(0))) == "Monday"
    assert in_language("fr", lambda: sentence_start(weekday_name(6))) == "Dimanche"


def english_day(moment: date) -> str:
    return in_language("en", lambda: day(moment))


async def test_the_english_booking_form_writes_the_month_with_a_capital(client, world):
    await browser_login(client, "maker")
    start, _ = local_slot(2, "10:00")
    page = (await client.get(f"/machines/{world.ids['printer']}/book?start={start.replace('+', '%2B')}&lang=en")).text
    wanted = english_day(datetime.fromisoformat(start).date())
    assert f'<p class="lead">{wanted}' in page, wanted
    assert wanted.split()[-1][0].isupper()


async def test_the_french_week_and_desk_write_days_as_french_does(client, world):
    await browser_login(client, "animator")
    week = (await client.get(f"/machines/{world.ids['printer']}")).text
    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    french = in_language("fr", lambda: day(tomorrow))
    assert f"<h3>{sentence_start(french)}</h3>" in week
    desk = (await client.get(f"/desk/atelier/book?maker={world.ids['maker']}&lang=en")).text
    assert f"Tomorrow, {english_day(tomorrow)}" in desk
