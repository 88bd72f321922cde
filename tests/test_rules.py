"""The pure booking rules, table by table: no database, no HTTP.

A fixed clock (Wednesday 2027-03-10, 09:00 UTC = 10:00 in Paris) and a site in
Europe/Paris open every day 09:00–18:00, closed 20–21 March for the inventory.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from fabbooking.bookings.calendar import (
    ClosedDays,
    Interval,
    OpeningPeriod,
    opening_windows,
)
from fabbooking.bookings.rules import (
    BookingRequest,
    BookingRules,
    HeldQualification,
    MachineFacts,
    Refusal,
    check_cancellation,
    check_conflicts,
    check_period,
    check_qualification,
    check_quota,
)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris
TODAY = date(2027, 3, 10)
INVENTORY = ClosedDays(date(2027, 3, 20), date(2027, 3, 21), "inventaire")
EVERY_DAY_9_TO_18 = [OpeningPeriod(d, time(9), time(18)) for d in range(7)]
SUNDAY = 6


def paris(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, fold: int = 0) -> datetime:
    """A wall-clock time in Paris, as UTC (what the API stores)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=PARIS, fold=fold).astimezone(UTC)


def at(day: date, h: int = 0, mi: int = 0, days: int = 0, fold: int = 0) -> datetime:
    """``h:mi`` in Paris, ``days`` after ``day``."""
    d = day + timedelta(days=days)
    return paris(d.year, d.month, d.day, h, mi, fold=fold)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def machine(status: str = "available", opening=None, **rules: int) -> MachineFacts:
    return MachineFacts(
        kind="laser_cutter",
        status=status,
        timezone=PARIS,
        rules=BookingRules().overridden_by(rules),
        opening=EVERY_DAY_9_TO_18 if opening is None else opening,
        closures=[INVENTORY],
    )


def period(start: datetime, end: datetime, facts: MachineFacts, now: datetime = NOW) -> Refusal | None:
    return check_period(BookingRequest(start=start, end=end, now=now), facts)


# --- the period: one table of accepted cases, one of refusals --------------------------

ACCEPTED = [
    ("ordinary_hour_tomorrow", paris(2027, 3, 11, 10), paris(2027, 3, 11, 11), {}),
    ("starting_exactly_now", paris(2027, 3, 10, 10), paris(2027, 3, 10, 11), {}),
    ("exactly_the_minimum_notice", paris(2027, 3, 10, 12), paris(2027, 3, 10, 13),
     {"min_notice_minutes": 120}),
    ("starting_exactly_max_days_ahead", paris(2027, 4, 9, 11), paris(2027, 4, 9, 12), {}),
    ("exactly_the_minimum_duration", paris(2027, 3, 11, 10), paris(2027, 3, 11, 10, 30),
     {"min_minutes": 30}),
    ("exactly_the_maximum_duration", paris(2027, 3, 11, 10), paris(2027, 3, 11, 14), {}),
    ("on_a_30_minute_grid", paris(2027, 3, 11, 10, 30), paris(2027, 3, 11, 11, 30),
     {"slot_minutes": 30}),
    ("starting_exactly_at_opening", paris(2027, 3, 11, 9), paris(2027, 3, 11, 10), {}),
    ("ending_exactly_at_closing", paris(2027, 3, 11, 17), paris(2027, 3, 11, 18), {}),
    ("the_day_after_a_closure", paris(2027, 3, 22, 10), paris(2027, 3, 22, 11), {}),
]


@pytest.mark.parametrize(("start", "end", "rules"), [c[1:] for c in ACCEPTED],
                         ids=[c[0] for c in ACCEPTED])
def test_booking_period_accepted(start, end, rules):
    assert period(start, end, machine(**rules)) is None


REFUSED = [
    ("end_equal_to_start", paris(2027, 3, 11, 10), paris(2027, 3, 11, 10), {}, "available",
     Refusal("invalid_range")),
    ("end_before_start", paris(2027, 3, 11, 11), paris(2027, 3, 11, 10), {}, "available",
     Refusal("invalid_range")),
    ("machine_in_maintenance", paris(2027, 3, 11, 10), paris(2027, 3, 11, 11), {}, "maintenance",
     Refusal("machine_in_maintenance")),
    ("machine_out_of_order", paris(2027, 3, 11, 10), paris(2027, 3, 11, 11), {}, "out_of_order",
     Refusal("machine_out_of_order")),
    ("started_a_quarter_ago", paris(2027, 3, 10, 9, 45), paris(2027, 3, 10, 11), {}, "available",
     Refusal("in_the_past")),
    ("one_slot_short_of_the_notice", paris(2027, 3, 10, 11, 45), paris(2027, 3, 10, 13),
     {"min_notice_minutes": 120}, "available", Refusal("notice_too_short", {"minutes": 120})),
    ("one_slot_beyond_max_days_ahead", paris(2027, 4, 9, 11, 15), paris(2027, 4, 9, 12), {},
     "available", Refusal("too_far_ahead", {"days": 30})),
    ("start_off_the_grid", paris(2027, 3, 11, 10, 5), paris(2027, 3, 11, 11), {}, "available",
     Refusal("not_on_slot_grid", {"minutes": 15})),
    ("end_off_the_grid", paris(2027, 3, 11, 10), paris(2027, 3, 11, 11, 10), {}, "available",
     Refusal("not_on_slot_grid", {"minutes": 15})),
    ("start_with_seconds", paris(2027, 3, 11, 10, 0, 30), paris(2027, 3, 11, 11), {}, "available",
     Refusal("not_on_slot_grid", {"minutes": 15})),
    ("quarter_on_a_30_minute_grid", paris(2027, 3, 11, 10, 15), paris(2027, 3, 11, 11),
     {"slot_minutes": 30}, "available", Refusal("not_on_slot_grid", {"minutes": 30})),
    ("one_slot_under_the_minimum", paris(2027, 3, 11, 10), paris(2027, 3, 11, 10, 15),
     {"min_minutes": 30}, "available", Refusal("too_short", {"minutes": 30})),
    ("one_slot_over_the_maximum", paris(2027, 3, 11, 10), paris(2027, 3, 11, 14, 15), {},
     "available", Refusal("too_long", {"minutes": 240})),
    ("on_a_closed_day", paris(2027, 3, 20, 10), paris(2027, 3, 20, 11), {}, "available",
     Refusal("site_closed", {"start": INVENTORY.start, "end": INVENTORY.end,
                             "reason": "inventaire"})),
    ("before_opening", paris(2027, 3, 11, 8, 30), paris(2027, 3, 11, 9, 30), {}, "available",
     Refusal("outside_opening_hours")),
    ("one_slot_past_closing", paris(2027, 3, 11, 17, 30), paris(2027, 3, 11, 18, 15), {},
     "available", Refusal("outside_opening_hours")),
    ("overnight_across_closed_hours", paris(2027, 3, 11, 17), paris(2027, 3, 12, 10),
     {"max_minutes": 24 * 60}, "available", Refusal("outside_opening_hours")),
]


@pytest.mark.parametrize(("start", "end", "rules", "status", "expected"),
                         [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_booking_period_refused(start, end, rules, status, expected):
    assert period(start, end, machine(status, **rules)) == expected


def test_booking_refusal_names_the_first_thing_to_fix():
    # In the past, off the grid, too long and at night: the machine being down comes first.
    start, end = paris(2027, 3, 9, 22, 5), paris(2027, 3, 10, 8)
    assert period(start, end, machine("maintenance")).code == "machine_in_maintenance"
    assert period(start, end, machine()).code == "in_the_past"


def test_machine_rules_override_only_the_values_given():
    rules = BookingRules().overridden_by({"max_minutes": 60, "buffer_minutes": None, "bogus": 3})
    assert rules == replace(BookingRules(), max_minutes=60)


# --- opening hours made of several periods --------------------------------------------

THURSDAY = 3  # 11 March 2027
SPLIT_DAY = [OpeningPeriod(THURSDAY, time(9), time(12)), OpeningPeriod(THURSDAY, time(12), time(14)),
             OpeningPeriod(THURSDAY, time(15), time(18)), OpeningPeriod(THURSDAY, time(20), time(2))]


@pytest.mark.parametrize(("start", "end", "expected"), [
    (paris(2027, 3, 11, 11), paris(2027, 3, 11, 13), None),  # across two periods that touch
    (paris(2027, 3, 11, 9), paris(2027, 3, 11, 14), None),  # the whole of both
    (paris(2027, 3, 11, 23), paris(2027, 3, 12, 1), None),  # an evening open past midnight
    (paris(2027, 3, 12, 0), paris(2027, 3, 12, 2), None),  # after midnight, in Thursday's evening
    (paris(2027, 3, 11, 13), paris(2027, 3, 11, 16), "outside_opening_hours"),  # over the 14:00-15:00 gap
    (paris(2027, 3, 12, 1), paris(2027, 3, 12, 3), "outside_opening_hours"),  # past the evening's end
])
def test_a_booking_fits_opening_hours_made_of_several_periods(start, end, expected):
    refusal = period(start, end, machine(opening=SPLIT_DAY, max_minutes=600))
    assert (refusal.code if refusal else None) == expected


# --- daylight saving: last Sundays of March and October 2027 ---------------------------

SPRING, AUTUMN = date(2027, 3, 28), date(2027, 10, 31)
SUNDAY_9_TO_18 = [OpeningPeriod(SUNDAY, time(9), time(18))]
NOW_BEFORE = {SPRING: NOW, AUTUMN: utc(2027, 10, 20, 9)}


@pytest.mark.parametrize(("day", "utc_start"), [
    (SPRING, utc(2027, 3, 28, 7)),   # CEST, UTC+2 after the change
    (AUTUMN, utc(2027, 10, 31, 8)),  # CET, UTC+1 after the change
], ids=["spring_forward", "fall_back"])
def test_nine_to_ten_local_accepted_on_dst_sunday(day, utc_start):
    start, end = at(day, 9), at(day, 10)
    assert (start, end) == (utc_start, utc_start + timedelta(hours=1))
    assert period(start, end, machine(opening=SUNDAY_9_TO_18), NOW_BEFORE[day]) is None


@pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["spring_forward", "fall_back"])
def test_half_past_eight_local_refused_before_opening_on_dst_sunday(day):
    start, end = at(day, 8, 30), at(day, 9, 30)
    refusal = period(start, end, machine(opening=SUNDAY_9_TO_18), NOW_BEFORE[day])
    assert refusal == Refusal("outside_opening_hours")


@pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["spring_forward", "fall_back"])
def test_opening_window_on_dst_sunday_is_nine_real_hours(day):
    windows = opening_windows(at(day), at(day, days=1), PARIS, SUNDAY_9_TO_18, [])
    assert windows == [Interval(at(day, 9), at(day, 18))]
    assert windows[0].duration == timedelta(hours=9)


@pytest.mark.parametrize(("day", "opening", "hours"), [
    (SPRING, [OpeningPeriod(SUNDAY, time(0), time(12)), OpeningPeriod(SUNDAY, time(12), time(0))],
     timedelta(hours=23)),
    (AUTUMN, [OpeningPeriod(SUNDAY, time(0), time(12)), OpeningPeriod(SUNDAY, time(12), time(0))],
     timedelta(hours=25)),
    (SPRING, [OpeningPeriod(SUNDAY, time(0), time(23, 59))], timedelta(hours=22, minutes=59)),
    (AUTUMN, [OpeningPeriod(SUNDAY, time(0), time(23, 59))], timedelta(hours=24, minutes=59)),
], ids=["spring_two_periods", "autumn_two_periods", "spring_0000_2359", "autumn_0000_2359"])
def test_round_the_clock_sunday_covers_every_real_hour_of_the_day(day, opening, hours):
    windows = opening_windows(at(day, days=-1), at(day, days=2), PARIS, opening, [])
    assert len(windows) == 1  # the two periods meet at noon and merge
    assert windows[0].start == at(day)
    assert windows[0].duration == hours


ROUND_THE_CLOCK = [OpeningPeriod(SUNDAY, time(0), time(23, 59))]


@pytest.mark.parametrize(("start", "end", "now", "real", "rules", "expected"), [
    # 01:45 CEST -> 03:15 CET is 2h30 of machine time, within a 4 h maximum…
    (paris(2027, 10, 31, 1, 45), paris(2027, 10, 31, 3, 15), NOW_BEFORE[AUTUMN],
     timedelta(hours=2, minutes=30), {"max_minutes": 240}, None),
    # …but over a 2 h one, even though the wall clock shows 1h30.
    (paris(2027, 10, 31, 1, 45), paris(2027, 10, 31, 3, 15), NOW_BEFORE[AUTUMN],
     timedelta(hours=2, minutes=30), {"max_minutes": 120}, Refusal("too_long", {"minutes": 120})),
    # The second 02:15–02:45 (CET) of the repeated hour is on the grid.
    (paris(2027, 10, 31, 2, 15, fold=1), paris(2027, 10, 31, 2, 45, fold=1), NOW_BEFORE[AUTUMN],
     timedelta(minutes=30), {}, None),
    # 02:xx does not exist on 28 March: 03:00 is the grid point right after 01:45.
    (paris(2027, 3, 28, 3), paris(2027, 3, 28, 4), NOW, timedelta(hours=1), {}, None),
    (paris(2027, 3, 28, 1, 45), paris(2027, 3, 28, 3), NOW, timedelta(minutes=15), {}, None),
    (paris(2027, 3, 28, 1, 45), paris(2027, 3, 28, 3, 15), NOW, timedelta(minutes=30),
     {"min_minutes": 60}, Refusal("too_short", {"minutes": 60})),
], ids=["autumn_2h30_real_accepted", "autumn_2h30_real_too_long", "autumn_repeated_hour",
        "spring_03h00_start", "spring_01h45_to_03h00", "spring_half_hour_too_short"])
def test_booking_across_the_clock_change_counts_real_time(start, end, now, real, rules, expected):
    assert end - start == real
    assert period(start, end, machine(opening=ROUND_THE_CLOCK, **rules), now) == expected


# --- qualifications ---------------------------------------------------------------------

LASER = replace(machine(), required_training_id=7, required_training_name="Découpe laser")


def held(training_id: int = 7, kinds: tuple[str, ...] = (), expires: date | None = None):
    return HeldQualification(training_id, f"training {training_id}", kinds, expires)


@pytest.mark.parametrize(("facts", "qualifications", "expected"), [
    (machine(), [], None),
    (LASER, [held(7)], None),
    (LASER, [held(7, expires=TODAY)], None),
    (LASER, [held(7, expires=TODAY + timedelta(days=365))], None),
    (LASER, [held(3, kinds=("laser_cutter",))], None),
    (LASER, [held(7, expires=TODAY - timedelta(days=1)), held(3, kinds=("laser_cutter",))], None),
    (LASER, [], Refusal("not_qualified", {"training": "Découpe laser"})),
    (LASER, [held(3, kinds=("3d_printer",))], Refusal("not_qualified", {"training": "Découpe laser"})),
    (LASER, [held(7, expires=TODAY - timedelta(days=1))],
     Refusal("qualification_expired", {"training": "Découpe laser"})),
    (LASER, [held(3, kinds=("laser_cutter",), expires=TODAY - timedelta(days=1))],
     Refusal("qualification_expired", {"training": "Découpe laser"})),
], ids=["machine_needs_no_training", "named_training_held", "expiring_today_still_valid",
        "valid_for_a_year", "kind_wide_training_unlocks_it", "expired_named_but_valid_kind_wide",
        "no_training_not_qualified", "training_for_another_kind_not_qualified",
        "expired_yesterday", "kind_wide_expired_yesterday"])
def test_qualification(facts, qualifications, expected):
    assert check_qualification(facts, qualifications, TODAY) == expected


# --- quotas and conflicts -----------------------------------------------------------

TOMORROW_10_11 = BookingRequest(paris(2027, 3, 11, 10), paris(2027, 3, 11, 11), NOW)
BY_STAFF = replace(TOMORROW_10_11, by_staff=True)


@pytest.mark.parametrize(("request_", "held_count", "limit", "expected"), [
    (TOMORROW_10_11, 0, 3, None),
    (TOMORROW_10_11, 2, 3, None),
    (TOMORROW_10_11, 3, 3, Refusal("too_many_bookings", {"limit": 3})),
    (TOMORROW_10_11, 1, 1, Refusal("too_many_bookings", {"limit": 1})),
    (BY_STAFF, 3, 3, None),
    (BY_STAFF, 50, 1, None),
], ids=["none_held", "one_under_the_limit", "at_the_limit_refused", "limit_of_one",
        "staff_bypass_quota", "staff_bypass_any_quota"])
def test_quota(request_, held_count, limit, expected):
    assert check_quota(request_, machine(max_future_bookings=limit), held_count) == expected


def on_11(h1: int, m1: int, h2: int, m2: int) -> Interval:
    return Interval(paris(2027, 3, 11, h1, m1), paris(2027, 3, 11, h2, m2))


@pytest.mark.parametrize(("request_", "others", "buffer", "expected"), [
    (TOMORROW_10_11, [], 0, None),
    (TOMORROW_10_11, [on_11(11, 0, 12, 0)], 0, None),
    (TOMORROW_10_11, [on_11(9, 0, 10, 0)], 0, None),
    (TOMORROW_10_11, [on_11(9, 0, 10, 0), on_11(11, 0, 12, 0)], 0, None),
    (TOMORROW_10_11, [on_11(10, 45, 11, 30)], 0, Refusal("overlap")),
    (TOMORROW_10_11, [on_11(9, 0, 10, 15)], 0, Refusal("overlap")),
    (TOMORROW_10_11, [on_11(10, 15, 10, 30)], 0, Refusal("overlap")),
    (TOMORROW_10_11, [on_11(9, 0, 12, 0)], 0, Refusal("overlap")),
    (TOMORROW_10_11, [on_11(10, 0, 11, 0)], 15, Refusal("overlap")),
    (TOMORROW_10_11, [on_11(11, 0, 12, 0)], 15, Refusal("too_close", {"minutes": 15})),
    (TOMORROW_10_11, [on_11(9, 0, 10, 0)], 15, Refusal("too_close", {"minutes": 15})),
    (TOMORROW_10_11, [on_11(11, 10, 12, 0)], 15, Refusal("too_close", {"minutes": 15})),
    (TOMORROW_10_11, [on_11(11, 15, 12, 0)], 15, None),
    (TOMORROW_10_11, [on_11(8, 0, 9, 45)], 15, None),
    (BY_STAFF, [on_11(10, 30, 11, 30)], 0, Refusal("overlap")),
    (BY_STAFF, [on_11(11, 0, 12, 0)], 15, Refusal("too_close", {"minutes": 15})),
], ids=["free_machine", "back_to_back_after", "back_to_back_before", "between_two",
        "overlap_at_end", "overlap_at_start", "other_inside", "other_around",
        "same_slot_with_buffer", "adjacent_after_too_close_with_buffer",
        "adjacent_before_too_close_with_buffer", "gap_shorter_than_buffer",
        "gap_exactly_the_buffer_after", "gap_exactly_the_buffer_before",
        "staff_do_not_bypass_overlap", "staff_do_not_bypass_buffer"])
def test_conflicts(request_, others, buffer, expected):
    assert check_conflicts(request_, machine(buffer_minutes=buffer), others) == expected


# --- cancellation ---------------------------------------------------------------------

START = paris(2027, 3, 11, 14)
DEADLINE = START - timedelta(minutes=60)


@pytest.mark.parametrize(("now", "status", "by_owner", "by_staff", "expected"), [
    (NOW, "confirmed", True, False, None),
    (DEADLINE, "confirmed", True, False, None),
    (DEADLINE + timedelta(minutes=1), "confirmed", True, False,
     Refusal("cancel_deadline_passed", {"minutes": 60})),
    (START + timedelta(minutes=5), "confirmed", True, False,
     Refusal("cancel_deadline_passed", {"minutes": 60})),
    (START - timedelta(minutes=5), "confirmed", False, True, None),
    (START - timedelta(minutes=5), "confirmed", True, True, None),
    (NOW, "confirmed", False, False, Refusal("not_yours")),
    (NOW, "cancelled", True, False, Refusal("already_cancelled")),
    (NOW, "cancelled", False, True, Refusal("already_cancelled")),
    (NOW, "no_show", True, False, Refusal("not_cancellable")),
    (NOW, "no_show", False, True, Refusal("not_cancellable")),
], ids=["owner_a_day_before", "owner_exactly_at_deadline", "owner_one_minute_late",
        "owner_after_start", "staff_after_deadline", "owner_who_is_staff_after_deadline",
        "someone_else", "already_cancelled", "already_cancelled_even_for_staff",
        "no_show_booking", "no_show_booking_even_for_staff"])
def test_cancellation(now, status, by_owner, by_staff, expected):
    refusal = check_cancellation(START, now, status, BookingRules(), by_owner, by_staff)
    assert refusal == expected


def test_cancellation_deadline_follows_the_machine_rules():
    rules = BookingRules(cancel_deadline_minutes=24 * 60)
    late = START - timedelta(hours=23)
    assert check_cancellation(START, late, "confirmed", rules, True, False) == Refusal(
        "cancel_deadline_passed", {"minutes": 1440})
    assert check_cancellation(START, late - timedelta(hours=1), "confirmed", rules, True,
                              False) is None


def test_a_machines_kept_day_windows_give_the_windows_worked_out_afresh():
    """The booking rules take each local date's opening windows from the machine's facts,
    worked out once per date (the facts are kept between requests): across the spring and
    autumn clock changes, a period past midnight and a closure, the windows of any range are
    those computed from the periods and closures themselves, asked once or again."""
    periods = [*EVERY_DAY_9_TO_18, OpeningPeriod(4, time(20), time(2))]  # Fridays 20:00–02:00
    facts = machine(opening=periods)
    for first in (date(2027, 3, 17), date(2027, 3, 26), date(2027, 10, 29)):
        for hours in range(0, 24 * 5, 7):
            start = at(first, 0, days=0) + timedelta(hours=hours)
            end = start + timedelta(hours=hours % 30 + 1)
            afresh = opening_windows(start, end, PARIS, periods, [INVENTORY])
            assert facts.opening_windows(start, end) == afresh
            assert facts.opening_windows(start, end) == afresh
    assert facts.windows_on(date(2027, 3, 17)) is facts.windows_on(date(2027, 3, 17))  # kept, not worked out again
    assert facts.windows_on(date(2027, 3, 20)) == ()  # the inventory
    assert facts.windows_on(date(2027, 3, 26))[-1] == Interval(paris(2027, 3, 26, 20), paris(2027, 3, 27, 2))
    assert replace(facts, opening=[]).windows_on(date(2027, 3, 26)) == ()  # other facts, other days
