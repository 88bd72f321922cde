"""Free bookable time of a machine (pure): opening hours, closures, rules and bookings.

Same fixed clock as the rules tests: Wednesday 2027-03-10, 09:00 UTC = 10:00 in Paris.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from fabbooking.bookings.availability import ceil_to_grid, floor_to_grid, free_intervals
from fabbooking.bookings.calendar import ClosedDays, Interval, OpeningPeriod
from fabbooking.bookings.rules import (
    BookingRequest,
    BookingRules,
    MachineFacts,
    check_period,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris
THURSDAY = date(2027, 3, 11)
INVENTORY = ClosedDays(date(2027, 3, 20), date(2027, 3, 21), "inventaire")
EVERY_DAY_9_TO_18 = [OpeningPeriod(d, time(9), time(18)) for d in range(7)]
SUNDAY = 6
SPRING, AUTUMN = date(2027, 3, 28), date(2027, 10, 31)
NOW_BEFORE_AUTUMN = datetime(2027, 10, 20, 9, 0, tzinfo=UTC)


def at(day: date, h: int = 0, mi: int = 0, days: int = 0, fold: int = 0) -> datetime:
    """``h:mi`` wall-clock time in Paris, ``days`` after ``day``, as UTC."""
    d = day + timedelta(days=days)
    return datetime(d.year, d.month, d.day, h, mi, tzinfo=PARIS, fold=fold).astimezone(UTC)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def machine(status: str = "available", opening=None, **rules: int) -> MachineFacts:
    return MachineFacts(
        kind="3d_printer",
        status=status,
        timezone=PARIS,
        rules=BookingRules().overridden_by(rules),
        opening=EVERY_DAY_9_TO_18 if opening is None else opening,
        closures=[INVENTORY],
    )


def free_on(day: date, facts: MachineFacts, busy=(), now: datetime = NOW) -> list[Interval]:
    """Free time over one whole local day."""
    return free_intervals(at(day), at(day, days=1), now, facts, list(busy))


def span(day: date, h1: int, m1: int, h2: int, m2: int) -> Interval:
    return Interval(at(day, h1, m1), at(day, h2, m2))


def assert_on_local_grid(intervals: list[Interval], step: int) -> None:
    for moment in (m for i in intervals for m in (i.start, i.end)):
        local = moment.astimezone(PARIS)
        assert (local.second, local.microsecond) == (0, 0), local
        assert (local.hour * 60 + local.minute) % step == 0, local


# --- status, closures, opening hours --------------------------------------------------

@pytest.mark.parametrize("status", ["maintenance", "out_of_order"])
def test_machine_that_is_not_available_has_no_free_time(status):
    assert free_on(THURSDAY, machine(status)) == []


def test_whole_opening_day_is_free_without_bookings():
    assert free_on(THURSDAY, machine()) == [span(THURSDAY, 9, 0, 18, 0)]


def test_closed_days_have_no_free_time():
    assert free_on(date(2027, 3, 20), machine()) == []
    assert free_on(date(2027, 3, 21), machine()) == []
    assert free_on(date(2027, 3, 22), machine()) == [span(date(2027, 3, 22), 9, 0, 18, 0)]


def test_query_range_clips_the_free_time():
    found = free_intervals(at(THURSDAY, 12), at(THURSDAY, 14), NOW, machine(), [])
    assert found == [span(THURSDAY, 12, 0, 14, 0)]


def test_several_days_give_one_interval_per_opening():
    found = free_intervals(at(THURSDAY), at(THURSDAY, days=2), NOW, machine(), [])
    assert found == [span(THURSDAY, 9, 0, 18, 0),
                     Interval(at(THURSDAY, 9, days=1), at(THURSDAY, 18, days=1))]


# --- bookings and buffer --------------------------------------------------------------

BUSY = [span(THURSDAY, 10, 0, 11, 0), span(THURSDAY, 14, 0, 15, 30)]


@pytest.mark.parametrize(("rules", "busy", "expected"), [
    ({}, BUSY, [(9, 0, 10, 0), (11, 0, 14, 0), (15, 30, 18, 0)]),
    ({}, [span(THURSDAY, 10, 0, 11, 0), span(THURSDAY, 11, 0, 12, 0)],
     [(9, 0, 10, 0), (12, 0, 18, 0)]),
    ({}, [span(THURSDAY, 8, 0, 9, 30), span(THURSDAY, 17, 0, 19, 0)], [(9, 30, 17, 0)]),
    ({}, [span(THURSDAY, 8, 0, 19, 0)], []),
    ({"buffer_minutes": 15}, BUSY, [(9, 0, 9, 45), (11, 15, 13, 45), (15, 45, 18, 0)]),
    # a 10-minute buffer on a 15-minute grid: edges move to the next grid point outwards
    ({"buffer_minutes": 10}, BUSY, [(9, 0, 9, 45), (11, 15, 13, 45), (15, 45, 18, 0)]),
    ({"buffer_minutes": 30, "slot_minutes": 30}, BUSY, [(9, 0, 9, 30), (11, 30, 13, 30),
                                                        (16, 0, 18, 0)]),
], ids=["bookings_cut_out", "back_to_back_bookings", "bookings_across_opening_and_closing",
        "fully_booked", "buffer_widens_the_cut", "buffer_off_the_grid", "thirty_minute_grid"])
def test_bookings_are_cut_out_of_free_time(rules, busy, expected):
    found = free_on(THURSDAY, machine(**rules), busy)
    assert found == [span(THURSDAY, *e) for e in expected]
    assert_on_local_grid(found, machine(**rules).rules.slot_minutes)


@pytest.mark.parametrize(("rules", "busy", "expected"), [
    ({"min_minutes": 60}, [span(THURSDAY, 10, 0, 11, 0), span(THURSDAY, 11, 30, 12, 0)],
     [(9, 0, 10, 0), (12, 0, 18, 0)]),
    ({"min_minutes": 30}, [span(THURSDAY, 10, 0, 11, 0), span(THURSDAY, 11, 30, 12, 0)],
     [(9, 0, 10, 0), (11, 0, 11, 30), (12, 0, 18, 0)]),
    ({"min_minutes": 60}, [span(THURSDAY, 10, 0, 17, 0)], [(9, 0, 10, 0), (17, 0, 18, 0)]),
    ({"min_minutes": 90}, [span(THURSDAY, 10, 0, 17, 0)], []),
    ({"buffer_minutes": 10, "min_minutes": 30},
     [span(THURSDAY, 10, 0, 11, 0), span(THURSDAY, 11, 40, 12, 0)],
     [(9, 0, 9, 45), (12, 15, 18, 0)]),
], ids=["half_hour_gap_under_an_hour_minimum", "half_hour_gap_kept_at_half_hour_minimum",
        "exactly_the_minimum_kept", "everything_under_the_minimum", "buffer_eats_the_gap"])
def test_free_pieces_shorter_than_the_minimum_duration_are_dropped(rules, busy, expected):
    assert free_on(THURSDAY, machine(**rules), busy) == [span(THURSDAY, *e) for e in expected]


# --- notice and how far ahead ----------------------------------------------------------

TODAY = date(2027, 3, 10)


@pytest.mark.parametrize(("now", "rules", "expected"), [
    (NOW, {}, [(10, 0, 18, 0)]),
    (NOW, {"min_notice_minutes": 120}, [(12, 0, 18, 0)]),
    (NOW + timedelta(minutes=7), {}, [(10, 15, 18, 0)]),
    (NOW + timedelta(minutes=7), {"slot_minutes": 30}, [(10, 30, 18, 0)]),
    (NOW + timedelta(minutes=7), {"min_notice_minutes": 60}, [(11, 15, 18, 0)]),
    (utc(2027, 3, 10, 16, 50), {}, []),
    (utc(2027, 3, 10, 16, 40), {"min_minutes": 15}, [(17, 45, 18, 0)]),
], ids=["from_now", "after_the_notice", "now_rounded_up_to_the_grid",
        "now_rounded_up_to_a_30_minute_grid", "notice_then_grid", "too_late_today",
        "last_slot_of_the_day"])
def test_free_time_today_starts_after_now_and_the_notice(now, rules, expected):
    assert free_on(TODAY, machine(**rules), now=now) == [span(TODAY, *e) for e in expected]


LAST_DAY = date(2027, 4, 9)  # NOW + 30 days = 2027-04-09 09:00 UTC = 11:00 in Paris (CEST)


@pytest.mark.parametrize(("rules", "busy", "expected"), [
    ({}, [], [(9, 0, 15, 0)]),  # a booking may start until 11:00 and last 4 h
    ({"max_minutes": 60}, [], [(9, 0, 12, 0)]),
    ({}, [span(LAST_DAY, 10, 0, 10, 30)], [(9, 0, 10, 0), (10, 30, 15, 0)]),
    # free time that only starts after 11:00 cannot be booked yet: none is offered
    ({}, [span(LAST_DAY, 9, 0, 11, 30)], []),
    ({}, [span(LAST_DAY, 9, 0, 11, 0)], [(11, 0, 15, 0)]),
], ids=["last_day_until_start_limit_plus_max", "shorter_maximum", "booking_on_last_day",
        "only_after_the_start_limit", "starting_exactly_at_the_limit"])
def test_free_time_stops_at_max_days_ahead(rules, busy, expected):
    found = free_on(LAST_DAY, machine(**rules), busy)
    assert found == [span(LAST_DAY, *e) for e in expected]


def test_no_free_time_beyond_max_days_ahead():
    assert free_on(LAST_DAY + timedelta(days=1), machine()) == []


def test_every_offered_free_interval_can_be_booked_from_its_start():
    facts = machine(buffer_minutes=10, min_minutes=30)
    busy = [span(LAST_DAY, 9, 0, 9, 30), span(LAST_DAY, 10, 45, 11, 0)]
    found = free_on(LAST_DAY, facts, busy)
    assert found
    for interval in found:
        end = interval.start + timedelta(minutes=facts.rules.min_minutes)
        assert check_period(BookingRequest(interval.start, end, NOW), facts) is None


# --- daylight saving -------------------------------------------------------------------

SUNDAY_9_TO_18 = [OpeningPeriod(SUNDAY, time(9), time(18))]
ROUND_THE_CLOCK = [OpeningPeriod(SUNDAY, time(0), time(12)), OpeningPeriod(SUNDAY, time(12), time(0))]


@pytest.mark.parametrize(("day", "now", "expected"), [
    (SPRING, NOW, Interval(utc(2027, 3, 28, 7), utc(2027, 3, 28, 16))),
    (AUTUMN, NOW_BEFORE_AUTUMN, Interval(utc(2027, 10, 31, 8), utc(2027, 10, 31, 17))),
], ids=["spring_forward", "fall_back"])
def test_dst_sunday_free_time_has_correct_utc_edges(day, now, expected):
    assert free_on(day, machine(opening=SUNDAY_9_TO_18), now=now) == [expected]


@pytest.mark.parametrize(("day", "now", "hours"), [
    (SPRING, NOW, 23), (AUTUMN, NOW_BEFORE_AUTUMN, 25),
], ids=["spring_forward", "fall_back"])
def test_round_the_clock_dst_sunday_is_free_for_every_real_hour(day, now, hours):
    found = free_on(day, machine(opening=ROUND_THE_CLOCK, max_minutes=240), now=now)
    assert found == [Interval(at(day), at(day, days=1))]
    assert found[0].duration == timedelta(hours=hours)


def test_spring_forward_gap_is_skipped_by_the_grid():
    # Booked 01:00–01:50 local with a 0-minute buffer but a 60-minute grid: 02:00 does not
    # exist, so the next free hour starts at 03:00 CEST, ten real minutes later.
    facts = machine(opening=ROUND_THE_CLOCK, slot_minutes=60, min_minutes=60)
    found = free_on(SPRING, facts, [Interval(at(SPRING, 1), at(SPRING, 1, 50))])
    assert found[1].start == at(SPRING, 3) == utc(2027, 3, 28, 1)
    assert_on_local_grid(found, 60)


def test_fall_back_repeated_hour_edges_stay_on_the_grid():
    # Booked 02:00–02:30 CET (the second 02:00) with a 10-minute buffer: taken from
    # 02:50 CEST to 02:40 CET. Free time ends at 02:45 CEST and resumes at 02:45 CET.
    facts = machine(opening=ROUND_THE_CLOCK, buffer_minutes=10)
    busy = [Interval(at(AUTUMN, 2, 0, fold=1), at(AUTUMN, 2, 30, fold=1))]
    found = free_on(AUTUMN, facts, busy, now=NOW_BEFORE_AUTUMN)
    assert found == [
        Interval(at(AUTUMN), utc(2027, 10, 31, 0, 45)),  # 02:45 CEST
        Interval(utc(2027, 10, 31, 1, 45), at(AUTUMN, days=1)),  # 02:45 CET
    ]
    assert_on_local_grid(found, 15)


# --- rounding to the local grid ---------------------------------------------------------

@pytest.mark.parametrize(("moment", "step", "up", "down"), [
    (at(THURSDAY, 10, 7), 15, at(THURSDAY, 10, 15), at(THURSDAY, 10, 0)),
    (at(THURSDAY, 10, 15), 15, at(THURSDAY, 10, 15), at(THURSDAY, 10, 15)),
    (at(THURSDAY, 10, 15) + timedelta(seconds=1), 15, at(THURSDAY, 10, 30), at(THURSDAY, 10, 15)),
    (at(THURSDAY, 10, 15), 30, at(THURSDAY, 10, 30), at(THURSDAY, 10, 0)),
    (at(THURSDAY, 23, 50), 15, at(THURSDAY, 0, 0, days=1), at(THURSDAY, 23, 45)),
    # spring forward: 01:50 CET is followed by 03:00 CEST
    (utc(2027, 3, 28, 0, 50), 15, utc(2027, 3, 28, 1, 0), utc(2027, 3, 28, 0, 45)),
    (utc(2027, 3, 28, 0, 50), 60, at(SPRING, 3), at(SPRING, 1)),
    (utc(2027, 3, 28, 1, 10), 60, at(SPRING, 4), at(SPRING, 3)),
    # fall back: the first 02:10 (CEST) and the second one (CET) round within their own hour
    (at(AUTUMN, 2, 10), 15, at(AUTUMN, 2, 15), at(AUTUMN, 2, 0)),
    (at(AUTUMN, 2, 10, fold=1), 15, at(AUTUMN, 2, 15, fold=1), at(AUTUMN, 2, 0, fold=1)),
    (at(AUTUMN, 2, 50, fold=1), 15, at(AUTUMN, 3, 0), at(AUTUMN, 2, 45, fold=1)),
], ids=["between", "on_grid", "one_second_after", "thirty_minute_grid", "to_midnight",
        "spring_quarter", "spring_hour_from_0150", "spring_hour_from_0310",
        "autumn_first_0210", "autumn_second_0210", "autumn_second_0250"])
def test_rounding_to_the_local_grid(moment, step, up, down):
    assert ceil_to_grid(moment, step, PARIS) == up
    assert floor_to_grid(moment, step, PARIS) == down
    assert floor_to_grid(moment, step, PARIS) <= moment <= ceil_to_grid(moment, step, PARIS)

