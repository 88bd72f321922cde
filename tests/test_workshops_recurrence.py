"""The dates of a recurring workshop (pure): every week, every other week, chosen days, the
limits, and local times that stay put across the daylight-saving changes."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from fabbooking.bookings.rules import Refusal
from fabbooking.workshops.recurrence import occurrences, series_days

PARIS = ZoneInfo("Europe/Paris")


def test_weekly_until_a_date_includes_that_date():
    assert series_days("weekly", date(2027, 1, 6), date(2027, 1, 27)) == [
        date(2027, 1, 6), date(2027, 1, 13), date(2027, 1, 20), date(2027, 1, 27)]


def test_fortnightly_skips_every_other_week():
    assert series_days("fortnightly", date(2027, 1, 6), date(2027, 2, 2)) == [
        date(2027, 1, 6), date(2027, 1, 20)]


def test_chosen_dates_are_sorted_and_counted_once():
    days = series_days("dates", date(2027, 1, 6), None, [date(2027, 3, 1), date(2027, 1, 9),
                                                         date(2027, 3, 1)])
    assert days == [date(2027, 1, 9), date(2027, 3, 1)]


@pytest.mark.parametrize(("frequency", "until", "chosen", "code"), [
    ("weekly", date(2027, 1, 1), (), "series_until_before_start"),
    ("weekly", None, (), "series_until_needed"),
    ("weekly", date(2028, 1, 20), (), "series_too_long"),
    ("daily", date(2027, 2, 1), (), "series_frequency_unknown"),
    ("dates", None, (), "series_no_dates"),
    ("dates", None, tuple(date(2027, 1, 1) + timedelta(days=n) for n in range(10_000)),
     "series_too_many"),
    ("dates", None, (date(2027, 1, 6), date(2028, 6, 1)), "series_too_long"),
])
def test_series_that_cannot_be_planned_say_why(frequency, until, chosen, code):
    refusal = series_days(frequency, date(2027, 1, 6), until, chosen)
    assert isinstance(refusal, Refusal) and refusal.code == code


def test_a_year_of_weeks_is_the_most_a_series_holds():
    assert len(series_days("weekly", date(2027, 1, 6), date(2027, 12, 29))) == 52  # type: ignore[arg-type]
    refusal = series_days("weekly", date(2027, 1, 1), date(2027, 12, 31))  # 53 Fridays
    assert isinstance(refusal, Refusal) and refusal.code == "series_too_many"


@pytest.mark.parametrize(("first", "change"), [(date(2027, 3, 17), date(2027, 3, 28)),
                                               (date(2027, 10, 20), date(2027, 10, 31))])
def test_a_weekly_14h_workshop_stays_at_14h_local_across_the_clock_change(first, change):
    days = series_days("weekly", first, first + timedelta(weeks=3))
    found = occurrences(days, time(14), time(16), PARIS)  # type: ignore[arg-type]
    assert [o.starts_at.astimezone(PARIS).time() for o in found] == [time(14)] * 4
    assert [o.ends_at - o.starts_at for o in found] == [timedelta(hours=2)] * 4
    before = {o.starts_at.hour for o in found if o.day < change}
    after = {o.starts_at.hour for o in found if o.day > change}
    assert before != after and len(before) == len(after) == 1  # the UTC hour moved by one
    assert abs(before.pop() - after.pop()) == 1
