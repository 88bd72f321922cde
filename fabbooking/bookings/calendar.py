"""When a site is open: weekly opening periods and closures turned into UTC windows.

Pure: no database, no HTTP. Opening hours are wall-clock times in the site's timezone, so
a window is computed per local date, which keeps 9:00–18:00 right across daylight saving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class OpeningPeriod:
    weekday: int  # Monday is 0
    opens: time
    closes: time


@dataclass(frozen=True)
class ClosedDays:
    start: date
    end: date  # included
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def local_dates(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Local dates touched by [start, end)."""
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def closure_on(day: date, closures: list[ClosedDays]) -> ClosedDays | None:
    return next((c for c in closures if c.covers(day)), None)


def hours_on(day: date, periods: list[OpeningPeriod], closures: list[ClosedDays]) -> list[OpeningPeriod]:
    """The opening periods of a local date, none when the site is closed that day."""
    if closure_on(day, closures) is not None:
        return []
    return sorted(p for p in periods if p.weekday == day.weekday())


def opening_windows(
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    periods: list[OpeningPeriod],
    closures: list[ClosedDays],
) -> list[Interval]:
    """UTC windows when the site is open, clipped to [start, end), in order."""
    return opening_windows_by_day(start, end, tz, lambda day: windows_on(day, tz, periods, closures))


def opening_windows_by_day(start: datetime, end: datetime, tz: ZoneInfo,
                           windows_of: Callable[[date], tuple[Interval, ...]]) -> list[Interval]:
    """``opening_windows`` with each local date's windows given by ``windows_of`` (as
    ``windows_on`` gives them: a caller may keep them)."""
    windows: list[Interval] = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for window in windows_of(day):
            clipped = Interval(max(window.start, start), min(window.end, end))
            if clipped.start < clipped.end:
                windows.append(clipped)
        day += timedelta(days=1)
    return _merge(windows)


def windows_on(day: date, tz: ZoneInfo, periods: list[OpeningPeriod],
               closures: list[ClosedDays]) -> tuple[Interval, ...]:
    """The UTC windows of a local date's opening periods, whole, in order (none on a day
    the site is closed); a period past midnight ends the next day."""
    return tuple(_period_on(day, period, tz) for period in hours_on(day, periods, closures))


@lru_cache(maxsize=8192)  # a pure function of its three values, asked again for every booking
def _period_on(day: date, period: OpeningPeriod, tz: ZoneInfo) -> Interval:
    opens = datetime.combine(day, period.opens, tzinfo=tz)
    closes_day = day if period.closes > period.opens else day + timedelta(days=1)
    closes = datetime.combine(closes_day, period.closes, tzinfo=tz)
    return Interval(opens.astimezone(UTC), closes.astimezone(UTC))


def _merge(windows: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for window in sorted(windows, key=lambda w: w.start):
        if merged and window.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, window.end))
        else:
            merged.append(window)
    return merged


def subtract(windows: list[Interval], busy: list[Interval]) -> list[Interval]:
    """What is left of ``windows`` once every ``busy`` interval is taken out."""
    free: list[Interval] = []
    for window in windows:
        pieces = [window]
        for taken in busy:
            next_pieces: list[Interval] = []
            for piece in pieces:
                if not piece.overlaps(taken):
                    next_pieces.append(piece)
                    continue
                if piece.start < taken.start:
                    next_pieces.append(Interval(piece.start, taken.start))
                if taken.end < piece.end:
                    next_pieces.append(Interval(taken.end, piece.end))
            pieces = next_pieces
        free.extend(pieces)
    return free
