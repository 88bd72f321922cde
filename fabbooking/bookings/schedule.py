"""What the booking pages show: a machine's week, and the choices for one free slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fabbooking.bookings.availability import free_intervals
from fabbooking.bookings.services import busy_intervals
from fabbooking.bookings.week import DAYS_SHOWN, WeekRow, week_bounds, week_grid
from fabbooking.network.services import MachinePlace, machine_place


@dataclass(frozen=True)
class MachineWeek:
    place: MachinePlace
    first_day: date
    last_day: date
    rows: list[WeekRow]
    previous: date | None
    next: date | None


def shown_days(wanted: date | None, today: date, last_bookable: date) -> tuple[date, date | None, date | None]:
    """The first of the seven days to show, and the first day of the seven before and after
    (None past today or the booking horizon). Seven days from today, not Monday to Sunday:
    on a Saturday the week is not five days already gone."""
    latest = max(today, last_bookable - timedelta(days=DAYS_SHOWN - 1))
    first = min(max(wanted or today, today), latest)
    step = timedelta(days=DAYS_SHOWN)
    return (first, max(first - step, today) if first > today else None,
            min(first + step, latest) if first < latest else None)


async def machine_week(machine_id: int, day: date | None, now: datetime,
                       place: MachinePlace | None = None) -> MachineWeek:
    place = place or await machine_place(machine_id)
    facts = place.facts
    today = now.astimezone(facts.timezone).date()
    last_bookable = (now + timedelta(days=facts.rules.max_days_ahead)).astimezone(facts.timezone).date()
    first, previous, following = shown_days(day, today, last_bookable)
    start, end = week_bounds(first, facts.timezone)
    busy = await busy_intervals(machine_id, start, end)
    free = free_intervals(start, end, now, facts, busy)
    windows = facts.opening_windows(start, end)
    rows = week_grid(first, facts.timezone, windows, busy, free, now, facts.rules.min_minutes)
    return MachineWeek(place=place, first_day=first, last_day=first + timedelta(days=DAYS_SHOWN - 1),
                       rows=rows, previous=previous, next=following)


@dataclass(frozen=True)
class SlotChoice:
    start: datetime
    ends: list[datetime]  # possible end times, shortest first


async def slot_choice(machine_id: int, start: datetime, now: datetime,
                      place: MachinePlace | None = None) -> SlotChoice | None:
    """The end times a booking starting at ``start`` may have; None when it is not free."""
    place = place or await machine_place(machine_id)
    rules = place.facts.rules
    horizon = start + timedelta(minutes=rules.max_minutes)
    busy = await busy_intervals(machine_id, start - timedelta(days=1), horizon + timedelta(days=1))
    free = free_intervals(start - timedelta(minutes=rules.slot_minutes), horizon, now, place.facts, busy)
    piece = next((f for f in free if f.start <= start < f.end), None)
    if piece is None:
        return None
    step = timedelta(minutes=rules.slot_minutes)
    end = start + timedelta(minutes=max(rules.min_minutes, rules.slot_minutes))
    ends = []
    while end <= min(piece.end, horizon):
        ends.append(end)
        end += step
    return SlotChoice(start, ends) if ends else None


