"""The visual week of a machine: seven days from a given one (today, at first), one row per
hour, one column per day, each cell free, busy, closed or past. Pure: built from intervals
already computed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabbooking.bookings.calendar import Interval


@dataclass(frozen=True)
class Cell:
    day: date
    start: datetime  # UTC start of the cell
    state: str  # "free" | "busy" | "unavailable" (open, but too soon, too far or too short) | "closed" | "past"
    book_from: datetime | None = None  # earliest bookable start inside the cell


@dataclass(frozen=True)
class WeekRow:
    label: time
    cells: list[Cell]


DAYS_SHOWN = 7


def week_bounds(first_day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=DAYS_SHOWN), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def week_grid(
    first_day: date,
    tz: ZoneInfo,
    open_windows: list[Interval],
    busy: list[Interval],
    free: list[Interval],
    now: datetime,
    min_minutes: int,
) -> list[WeekRow]:
    """Hour rows spanning every opening of the week; empty when the site never opens."""
    if not open_windows:
        return []
    first = min(w.start.astimezone(tz).hour for w in open_windows)
    last = max(_last_hour(w.end.astimezone(tz)) for w in open_windows)
    rows = []
    for hour in range(first, last + 1):
        cells = [
            _cell(first_day + timedelta(days=n), hour, tz, open_windows, busy, free, now, min_minutes)
            for n in range(DAYS_SHOWN)
        ]
        rows.append(WeekRow(time(hour), cells))
    return rows


def _last_hour(local_end: datetime) -> int:
    hour = local_end.hour if (local_end.minute or local_end.second) else local_end.hour - 1
    return max(hour, 0) if local_end.hour or local_end.minute else 23


def _cell(day: date, hour: int, tz: ZoneInfo, open_windows: list[Interval],
          busy: list[Interval], free: list[Interval], now: datetime, min_minutes: int) -> Cell:
    start = datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)
    cell = Interval(start, start + timedelta(hours=1))
    need = timedelta(minutes=min_minutes)
    for piece in free:
        begin = max(piece.start, cell.start)
        if begin < cell.end and begin + need <= piece.end:
            return Cell(day, start, "free", begin)
    if cell.end <= now:
        return Cell(day, start, "past")
    if any(b.overlaps(cell) for b in busy):
        return Cell(day, start, "busy")
    if any(w.overlaps(cell) for w in open_windows):
        return Cell(day, start, "unavailable")
    return Cell(day, start, "closed")
