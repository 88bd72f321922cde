"""The dates of a recurring workshop: every week, every other week, or chosen days, until a
date. Pure (no database, no HTTP).

Times are wall-clock times of the site: a weekly workshop at 14:00 stays at 14:00 local
time across the daylight-saving change, so its moment in UTC moves by an hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from fabbooking.bookings.rules import Refusal

MAX_OCCURRENCES = 52
MAX_SPAN = timedelta(days=366)  # a series plans a year at most


class Frequency(str, Enum):
    weekly = "weekly"
    fortnightly = "fortnightly"
    dates = "dates"  # the days chosen one by one


STEPS = {Frequency.weekly: timedelta(weeks=1), Frequency.fortnightly: timedelta(weeks=2)}


@dataclass(frozen=True)
class Occurrence:
    """One date of the series: its local day and its moments in UTC."""

    day: date
    starts_at: datetime
    ends_at: datetime


def local_moment(day: date, clock: time, timezone: ZoneInfo) -> datetime:
    """The UTC moment of a wall-clock time on a day. A time that does not exist (skipped by
    the spring change) is read with the offset before the change, as ``zoneinfo`` does with
    ``fold=0``; going through UTC puts it on the real clock."""
    return datetime.combine(day, clock, tzinfo=timezone).astimezone(UTC)


def series_days(frequency: Frequency | str, first: date, until: date | None,
                chosen: Sequence[date] = ()) -> list[date] | Refusal:
    """The days of the series, or why they cannot be planned. ``until`` is the last day a
    weekly or fortnightly series may fall on (included)."""
    try:
        frequency = Frequency(frequency)
    except ValueError:
        return Refusal("series_frequency_unknown")
    if frequency is Frequency.dates:
        days = sorted(set(chosen))
        if not days:
            return Refusal("series_no_dates")
        if len(days) > MAX_OCCURRENCES:
            return Refusal("series_too_many", {"limit": MAX_OCCURRENCES})
        if days[-1] - days[0] > MAX_SPAN:
            return Refusal("series_too_long", {"days": MAX_SPAN.days})
        return days
    if until is None:
        return Refusal("series_until_needed")
    if until < first:
        return Refusal("series_until_before_start")
    if until - first > MAX_SPAN:
        return Refusal("series_too_long", {"days": MAX_SPAN.days})
    step = STEPS[frequency]
    count = (until - first) // step + 1
    if count > MAX_OCCURRENCES:
        return Refusal("series_too_many", {"limit": MAX_OCCURRENCES})
    return [first + i * step for i in range(count)]


def occurrences(days: Sequence[date], starts: time, ends: time,
                timezone: ZoneInfo) -> list[Occurrence]:
    """Each day with the same local start and end times (an end before the start is the
    next day, for an evening that runs past midnight)."""
    found = []
    for day in days:
        end_day = day + timedelta(days=1) if ends <= starts else day
        found.append(Occurrence(day, local_moment(day, starts, timezone),
                                local_moment(end_day, ends, timezone)))
    return found
