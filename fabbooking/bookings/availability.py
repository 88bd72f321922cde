"""Free bookable time of a machine: opening hours, closures, rules and bookings applied. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fabbooking.bookings.calendar import Interval, subtract
from fabbooking.bookings.rules import MachineFacts


def free_intervals(
    start: datetime,
    end: datetime,
    now: datetime,
    machine: MachineFacts,
    busy: list[Interval],
) -> list[Interval]:
    """Maximal free intervals in [start, end) where a booking of at least the minimum
    duration would be accepted (ignoring who books: qualifications and quotas aside)."""
    if machine.status != "available":
        return []
    rules = machine.rules
    earliest = max(start, now + timedelta(minutes=rules.min_notice_minutes))
    latest_end = min(end, now + timedelta(days=rules.max_days_ahead, minutes=rules.max_minutes))
    if earliest >= latest_end:
        return []
    windows = machine.opening_windows(earliest, latest_end)
    buffer = timedelta(minutes=rules.buffer_minutes)
    padded = [Interval(b.start - buffer, b.end + buffer) for b in busy]
    last_start = now + timedelta(days=rules.max_days_ahead)  # later starts are too far ahead
    free: list[Interval] = []
    for piece in subtract(windows, padded):
        aligned = Interval(
            ceil_to_grid(piece.start, rules.slot_minutes, machine.timezone),
            floor_to_grid(piece.end, rules.slot_minutes, machine.timezone),
        )
        if aligned.start > last_start:
            continue
        if aligned.duration >= timedelta(minutes=max(rules.min_minutes, rules.slot_minutes)):
            free.append(aligned)
    return free


def _grid_minutes(moment: datetime, tz: ZoneInfo) -> tuple[datetime, int, bool]:
    local = moment.astimezone(tz)
    exact = not (local.second or local.microsecond)
    return local, local.hour * 60 + local.minute, exact


def _at_local_minute(local: datetime, minute_of_day: int, tz: ZoneInfo) -> datetime:
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    wall = midnight.replace(tzinfo=None) + timedelta(minutes=minute_of_day)
    # Keep the fold: in the repeated hour of autumn, 02:10 (second time) rounds to the
    # second 02:15 / 02:00, not to the first one an hour earlier.
    return wall.replace(tzinfo=tz, fold=local.fold).astimezone(UTC)


def ceil_to_grid(moment: datetime, step: int, tz: ZoneInfo) -> datetime:
    local, minutes, exact = _grid_minutes(moment, tz)
    if exact and minutes % step == 0:
        return moment.astimezone(UTC)
    target = (minutes // step + 1) * step
    return max(moment.astimezone(UTC), _at_local_minute(local, target, tz))


def floor_to_grid(moment: datetime, step: int, tz: ZoneInfo) -> datetime:
    local, minutes, exact = _grid_minutes(moment, tz)
    if exact and minutes % step == 0:
        return moment.astimezone(UTC)
    return min(moment.astimezone(UTC), _at_local_minute(local, (minutes // step) * step, tz))
