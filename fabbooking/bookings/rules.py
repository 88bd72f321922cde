"""The booking rules: may this maker hold this machine for [start, end)?

Pure functions over plain values (no database, no HTTP), so every refusal can be tested
in a table. Each refusal carries a stable ``code``; ``fabbooking.messages`` words it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fabbooking.bookings.calendar import (
    ClosedDays,
    Interval,
    OpeningPeriod,
    closure_on,
    local_dates,
    opening_windows_by_day,
    windows_on,
)


@dataclass(frozen=True)
class BookingRules:
    """A machine's rules; a site holds the defaults, a machine may override each one."""

    slot_minutes: int = 15
    min_minutes: int = 15
    max_minutes: int = 240
    max_days_ahead: int = 30
    min_notice_minutes: int = 0
    cancel_deadline_minutes: int = 60
    max_future_bookings: int = 3
    buffer_minutes: int = 0

    def overridden_by(self, overrides: dict[str, int | None]) -> BookingRules:
        """These rules with every non-empty value of ``overrides`` put in place."""
        names = {f.name for f in fields(self)}
        chosen = {k: v for k, v in overrides.items() if k in names and v is not None}
        return replace(self, **chosen)


RULE_NAMES = tuple(f.name for f in fields(BookingRules))

# No booking lasts longer (the database refuses one that would: migration
# bookings_2026_12_05t16); the rules' longest duration is at most 10,000 minutes. So whatever
# overlaps [start, end) started after start - LONGEST_BOOKING: range queries are bounded.
LONGEST_BOOKING = timedelta(days=7)


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: a stable code and the values its message needs."""

    code: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class HeldQualification:
    training_id: int
    training_name: str
    unlocks_kinds: tuple[str, ...]
    expires_on: date | None


@dataclass(frozen=True)
class MachineFacts:
    kind: str
    status: str
    timezone: ZoneInfo
    rules: BookingRules
    opening: list[OpeningPeriod]
    closures: list[ClosedDays]
    required_training_id: int | None = None
    required_training_name: str = ""
    # each local date's opening windows, worked out once (facts are kept between requests
    # with their machine's place: network.services.machine_place)
    _days: dict[date, tuple[Interval, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def windows_on(self, day: date) -> tuple[Interval, ...]:
        """calendar.windows_on for this machine's site, kept (at most a few years of dates)."""
        found = self._days.get(day)
        if found is None:
            if len(self._days) >= 4096:
                self._days.clear()
            found = self._days[day] = windows_on(day, self.timezone, self.opening, self.closures)
        return found

    def opening_windows(self, start: datetime, end: datetime) -> list[Interval]:
        """calendar.opening_windows for this machine's site, from its kept dates."""
        return opening_windows_by_day(start, end, self.timezone, self.windows_on)


@dataclass(frozen=True)
class BookingRequest:
    start: datetime
    end: datetime
    now: datetime
    by_staff: bool = False  # an animator of the site or an admin books: quotas do not apply


def check_period(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    """Rules about the period itself and the machine, in the order a person would fix them."""
    for check in (_range, _machine_status, _notice, _ahead, _grid, _duration, _closures, _hours):
        refusal = check(request, machine)
        if refusal:
            return refusal
    return None


def _range(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    if request.end <= request.start:
        return Refusal("invalid_range")
    return None


def _machine_status(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    if machine.status == "maintenance":
        return Refusal("machine_in_maintenance")
    if machine.status == "out_of_order":
        return Refusal("machine_out_of_order")
    return None


def _notice(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    if request.start < request.now:
        return Refusal("in_the_past")
    notice = machine.rules.min_notice_minutes
    if notice and request.start < request.now + timedelta(minutes=notice):
        return Refusal("notice_too_short", {"minutes": notice})
    return None


def _ahead(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    days = machine.rules.max_days_ahead
    if request.start > request.now + timedelta(days=days):
        return Refusal("too_far_ahead", {"days": days})
    return None


def _grid(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    step = machine.rules.slot_minutes
    for moment in (request.start, request.end):
        local = moment.astimezone(machine.timezone)
        if local.second or local.microsecond or (local.hour * 60 + local.minute) % step:
            return Refusal("not_on_slot_grid", {"minutes": step})
    return None


def _duration(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    minutes = (request.end - request.start) / timedelta(minutes=1)
    if minutes < machine.rules.min_minutes:
        return Refusal("too_short", {"minutes": machine.rules.min_minutes})
    if minutes > machine.rules.max_minutes:
        return Refusal("too_long", {"minutes": machine.rules.max_minutes})
    return None


def _closures(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    for day in local_dates(request.start, request.end, machine.timezone):
        closure = closure_on(day, machine.closures)
        if closure:
            return Refusal(
                "site_closed",
                {"start": closure.start, "end": closure.end, "reason": closure.reason},
            )
    return None


def _hours(request: BookingRequest, machine: MachineFacts) -> Refusal | None:
    # the opening windows clipped to the booking itself: it fits iff they merge into all of it
    # (opening_windows already looks at the day before, for a period open past midnight)
    wanted = Interval(request.start, request.end)
    windows = machine.opening_windows(request.start, request.end)
    if not any(window.contains(wanted) for window in windows):
        return Refusal("outside_opening_hours")
    return None


def check_qualification(
    machine: MachineFacts, held: Sequence[HeldQualification], today: date
) -> Refusal | None:
    """A machine that names a training needs a valid qualification: for that training, or
    for any training that unlocks the machine's whole kind."""
    if machine.required_training_id is None:
        return None
    matching = [
        q
        for q in held
        if q.training_id == machine.required_training_id or machine.kind in q.unlocks_kinds
    ]
    if any(q.expires_on is None or q.expires_on >= today for q in matching):
        return None
    if matching:
        return Refusal("qualification_expired", {"training": machine.required_training_name})
    return Refusal("not_qualified", {"training": machine.required_training_name})


def check_quota(
    request: BookingRequest, machine: MachineFacts, active_future_bookings: int
) -> Refusal | None:
    limit = machine.rules.max_future_bookings
    if not request.by_staff and active_future_bookings >= limit:
        return Refusal("too_many_bookings", {"limit": limit})
    return None


def check_conflicts(
    request: BookingRequest, machine: MachineFacts, others: list[Interval]
) -> Refusal | None:
    """Overlap with another booking (409), or too close to one for the buffer."""
    wanted = Interval(request.start, request.end)
    if any(other.overlaps(wanted) for other in others):
        return Refusal("overlap")
    buffer = timedelta(minutes=machine.rules.buffer_minutes)
    if buffer:
        padded = Interval(wanted.start - buffer, wanted.end + buffer)
        if any(other.overlaps(padded) for other in others):
            return Refusal("too_close", {"minutes": machine.rules.buffer_minutes})
    return None


def cancel_deadline(start: datetime, rules: BookingRules) -> datetime:
    """The last moment the maker may cancel online a booking starting at ``start``."""
    return start - timedelta(minutes=rules.cancel_deadline_minutes)


def check_cancellation(
    start: datetime,
    now: datetime,
    status: str,
    rules: BookingRules,
    by_owner: bool,
    by_staff: bool,
) -> Refusal | None:
    """The owner cancels until the deadline; the site's animators at any time."""
    if status == "cancelled":
        return Refusal("already_cancelled")
    if status != "confirmed":  # released as a no-show: nothing is held any more
        return Refusal("not_cancellable")
    if by_staff:
        return None
    if not by_owner:
        return Refusal("not_yours")
    if now > cancel_deadline(start, rules):
        return Refusal("cancel_deadline_passed", {"minutes": rules.cancel_deadline_minutes})
    return None
