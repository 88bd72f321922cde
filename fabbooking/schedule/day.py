"""One machine's day on the network's schedule: an hour cell per column (free, booked,
closed…) and the free stretches of the chosen part of the day. Pure: built from intervals
already computed (opening windows, bookings, free bookable time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabbooking.bookings.calendar import Interval

# Parts of the day as people say them, in local hours [from, to).
PERIODS: dict[str, tuple[int, int]] = {"morning": (0, 12), "afternoon": (12, 18), "evening": (18, 24)}


@dataclass(frozen=True)
class Cell:
    hour: int  # local hour of the column
    state: str  # "free" | "busy" | "unavailable" (open, but too soon, too far or too short) | "closed" | "past"
    book_from: datetime | None = None  # earliest bookable start inside the hour (free cells)


@dataclass(frozen=True)
class Stretch:
    """A free stretch inside the chosen part of the day, and where a booking may start in it
    (the hour by hour starts the booking form takes)."""

    start: datetime
    end: datetime
    starts: list[datetime]


@dataclass(frozen=True)
class MachineDay:
    cells: list[Cell]
    stretches: list[Stretch]


def day_bounds(day: date, tz: ZoneInfo, period: str = "") -> tuple[datetime, datetime]:
    """UTC bounds of a local day, or of one part of it."""
    first, last = PERIODS.get(period, (0, 24))
    start = datetime.combine(day, time(first), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=last // 24), time(last % 24), tzinfo=tz).astimezone(UTC)
    return start, end


def open_hours(day: date, tz: ZoneInfo, windows: list[Interval]) -> set[int]:
    """The local hours of ``day`` during which the site is open at some point."""
    hours: set[int] = set()
    for window in windows:
        for hour in range(24):
            cell = _hour(day, hour, tz)
            if window.overlaps(cell):
                hours.add(hour)
    return hours


def columns(hours: set[int], period: str = "") -> list[int]:
    """Hour columns from the earliest to the latest open hour, within the part of the day."""
    first, last = PERIODS.get(period, (0, 24))
    chosen = [h for h in hours if first <= h < last]
    return list(range(min(chosen), max(chosen) + 1)) if chosen else []


def machine_day(day: date, tz: ZoneInfo, hours: list[int], windows: list[Interval],
                busy: list[Interval], free: list[Interval], now: datetime, min_minutes: int,
                period: str = "") -> MachineDay:
    """The cells of ``hours`` and the free stretches of the part of the day. ``free`` is the
    machine's free bookable time over the whole day, so that a stretch running into the
    chosen part is found; it is cut to that part."""
    need = timedelta(minutes=min_minutes)
    cells = [_cell(_hour(day, h, tz), h, windows, busy, free, now, need) for h in hours]
    part_start, part_end = day_bounds(day, tz, period)
    stretches = []
    for piece in free:
        start, end = max(piece.start, part_start), min(piece.end, part_end)
        if end - start < need:
            continue
        starts = [c.book_from for c in cells if c.book_from and start <= c.book_from < end]
        if starts:
            stretches.append(Stretch(start, end, starts))
    return MachineDay(cells, stretches)


def _hour(day: date, hour: int, tz: ZoneInfo) -> Interval:
    start = datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)
    return Interval(start, start + timedelta(hours=1))


def _cell(cell: Interval, hour: int, windows: list[Interval], busy: list[Interval],
          free: list[Interval], now: datetime, need: timedelta) -> Cell:
    for piece in free:
        begin = max(piece.start, cell.start)
        if begin < cell.end and begin + need <= piece.end:
            return Cell(hour, "free", begin)
    if cell.end <= now:
        return Cell(hour, "past")
    if any(b.overlaps(cell) for b in busy):
        return Cell(hour, "busy")
    if any(w.overlaps(cell) for w in windows):
        return Cell(hour, "unavailable")
    return Cell(hour, "closed")
