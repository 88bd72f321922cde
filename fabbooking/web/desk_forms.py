"""The animator desk's forms: the choices they offer and how their answers are read.

Pure: no database, no HTTP. Days and times typed at the desk are the site's local ones;
they become aware datetimes here, before any service sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabbooking.bookings.calendar import Interval
from fabbooking.bookings.rules import BookingRules
from fabbooking.web.i18n import _

MACHINE_STATUSES = ("available", "maintenance", "out_of_order")
FALLBACK_HOURS = (time(8, 0), time(20, 0))
Errors = dict[str, str]

# Account refusals that belong to one field of the "create an account" form.
ACCOUNT_REFUSAL_FIELDS = {
    "username_taken": "new-username",
    "username_look_alike": "new-username",
    "invalid_input": "new-username",
    "invalid_username": "new-username",
    "password_too_short": "new-password",
    "password_too_long": "new-password",
    "invalid_password": "new-password",
}


def whole_number(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def read_day(text: str | None) -> date | None:
    """A day typed as 2026-12-31 (date field) or 31/12/2026 (old browsers show a text box)."""
    text = (text or "").strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def read_clock(text: str | None) -> time | None:
    try:
        return time.fromisoformat((text or "").strip())
    except ValueError:
        return None


def day_choices(today: date, rules: BookingRules) -> list[date]:
    """Today and every day a booking may be made for."""
    return [today + timedelta(days=n) for n in range(rules.max_days_ahead + 1)]


def clock_choices(opening: list[tuple[time, time]], step_minutes: int) -> list[time]:
    """Start times on the slot grid, from the site's earliest opening to its latest closing."""
    step = max(step_minutes, 1)
    opens, closes = FALLBACK_HOURS
    if opening:
        opens = min(o for o, _c in opening)
        closes = max(c if c != time(0) else time(23, 59) for _o, c in opening)
    minute = (opens.hour * 60 + opens.minute) // step * step
    last = closes.hour * 60 + closes.minute
    choices = []
    while minute < last:
        choices.append(time(minute // 60, minute % 60))
        minute += step
    return choices


def next_clock(now_local: datetime, clocks: list[time]) -> time | None:
    """The first start time still to come today, for a walk-in who wants the machine now."""
    return next((c for c in clocks if c >= now_local.time()), None)


def duration_choices(rules: BookingRules) -> list[int]:
    step = max(rules.slot_minutes, 1)
    first = -(-max(rules.min_minutes, step) // step) * step
    return list(range(first, rules.max_minutes + 1, step))


@dataclass(frozen=True)
class FreeStretch:
    """A free stretch of the chosen machine on the chosen day, and the start times in it."""

    interval: Interval
    starts: list[time]


def free_stretches(free: list[Interval], tz: ZoneInfo, rules: BookingRules) -> list[FreeStretch]:
    """Each free interval with the local start times a booking of the shortest duration can
    take in it, on the slot grid."""
    step = timedelta(minutes=max(rules.slot_minutes, 1))
    shortest = timedelta(minutes=max(rules.min_minutes, rules.slot_minutes))
    stretches = []
    for piece in free:
        starts, moment = [], piece.start
        while moment + shortest <= piece.end:
            starts.append(moment.astimezone(tz).time())
            moment += step
        if starts:
            stretches.append(FreeStretch(piece, starts))
    return stretches


@dataclass(frozen=True)
class DeskBooking:
    maker_id: int
    machine_id: int
    start: datetime
    end: datetime
    note: str


def read_booking(data: dict[str, str], tz: ZoneInfo,
                 machine_ids: set[int]) -> tuple[DeskBooking | None, Errors]:
    """The booking the desk form asks for, or the fields to correct (keyed by field id)."""
    errors: Errors = {}
    maker_id = whole_number(data.get("maker_id"))
    if maker_id is None:
        errors["book-person"] = _("Choisissez d'abord la personne, plus haut sur la page.")
    machine_id = whole_number(data.get("machine_id"))
    if machine_id not in machine_ids:
        errors["book-machine"] = _("Choisissez une machine dans la liste.")
    day = read_day(data.get("day"))
    if day is None:
        errors["book-day"] = _("Choisissez un jour dans la liste.")
    clock = read_clock(data.get("start"))
    if clock is None:
        errors["book-start"] = _("Choisissez une heure de début dans la liste.")
    minutes = whole_number(data.get("minutes"))
    if minutes is None or minutes <= 0:
        errors["book-minutes"] = _("Choisissez une durée dans la liste.")
    if errors:
        return None, errors
    start = datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
    return DeskBooking(maker_id, machine_id, start, start + timedelta(minutes=minutes),
                       data.get("note", "")), {}


@dataclass(frozen=True)
class DeskGrant:
    maker_id: int
    training_id: int
    expires_on: date | None


def read_grant(data: dict[str, str], today: date) -> tuple[DeskGrant | None, Errors]:
    errors: Errors = {}
    maker_id = whole_number(data.get("maker_id"))
    if maker_id is None:
        errors["grant-person"] = _("Choisissez d'abord la personne, plus haut sur la page.")
    training_id = whole_number(data.get("training_id"))
    if training_id is None:
        errors["grant-training"] = _("Choisissez une formation dans la liste.")
    expires_on = None
    if (data.get("expires_on") or "").strip():
        expires_on = read_day(data.get("expires_on"))
        if expires_on is None:
            errors["grant-expires"] = _("Écrivez la date comme 31/12/2027, ou laissez vide.")
        elif expires_on < today:
            errors["grant-expires"] = _("Cette date est déjà passée. Choisissez une date à venir, "
                                        "ou laissez vide.")
    if errors:
        return None, errors
    return DeskGrant(maker_id, training_id, expires_on), {}


@dataclass(frozen=True)
class DeskClosure:
    start: date
    end: date
    reason: str


def read_closure(data: dict[str, str]) -> tuple[DeskClosure | None, Errors]:
    """A closure of one day (no end date) or of several days, both included."""
    errors: Errors = {}
    start = read_day(data.get("start_date"))
    if start is None:
        errors["closure-start"] = _("Indiquez le premier jour de fermeture, comme 24/12/2026.")
    end = start
    if (data.get("end_date") or "").strip():
        end = read_day(data.get("end_date"))
        if end is None:
            errors["closure-end"] = _("Écrivez la date comme 31/12/2026, ou laissez vide pour "
                                      "un seul jour.")
        elif start is not None and end < start:
            errors["closure-end"] = _("Le dernier jour doit être le même jour ou après le premier.")
    if errors:
        return None, errors
    return DeskClosure(start, end, data.get("reason", "")), {}
