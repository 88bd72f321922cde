"""The workshop rules: is this workshop well formed, is this attendance believable, who gets
a place and who moves up from the waiting list.

Pure functions over plain values (no database, no HTTP): every refusal has a stable code
worded in fabbooking/workshops/messages.py, and every rule is tested in a table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking.bookings.rules import Refusal

# Same values as tables.Audience (a test keeps them equal); kept here so the rules stay pure.
AUDIENCES = ("children", "teens", "adults", "seniors", "job_seekers", "school_groups", "other")
AUDIENCE_NAMES = {  # (French, English), for the sentences of refusals
    "children": ("enfants", "children"), "teens": ("ados", "teens"),
    "adults": ("adultes", "adults"), "seniors": ("seniors", "seniors"),
    "job_seekers": ("personnes en recherche d'emploi", "job seekers"),
    "school_groups": ("groupes scolaires", "school groups"), "other": ("autres", "others"),
}

MIN_MINUTES = 15
MAX_HOURS = 12  # a workshop is a session, not a week-long event
MAX_CAPACITY = 500
MAX_HEAD_COUNT = 10_000
TITLE_LENGTH = 200
THEME_LENGTH = 100
NAME_LENGTH = 150
TEXT_LENGTH = 10_000
MAX_ANIMATORS = 20
MAX_MACHINES = 50  # more ids than a query may carry would fail the database, not the rule
# A workshop happens in these years: anything else is a typing slip (and the years 1 or 9999
# are past what a database or a time zone conversion can hold).
FIRST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(2100, 1, 1, tzinfo=UTC)

_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean_line(text: str) -> str:
    """One line as people type it, without control characters (a NUL byte is refused by
    PostgreSQL) or bidi overrides; tabs and line breaks become spaces."""
    text = "".join(" " if ch in "\t\r\n" else ch for ch in (text or "")
                   if unicodedata.category(ch) != "Cc" or ch in "\t\r\n")
    return _BIDI_CONTROLS.sub("", text)


def clean_lines(text: str) -> str:
    """Several lines (a description, notes): control characters and bidi overrides removed,
    line breaks and tabs kept."""
    text = (text or "").replace("\r\n", "\n")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch in "\t\n")
    return _BIDI_CONTROLS.sub("", text)


@dataclass(frozen=True)
class HeadCount:
    """How many people of one audience came, and how many of them for the first time."""

    audience: str
    head_count: object
    first_timers: object = 0


def check_title(title: str) -> Refusal | None:
    text = title.strip()
    if not text:
        return Refusal("workshop_title_needed")
    if len(text) > TITLE_LENGTH:
        return Refusal("workshop_title_too_long", {"limit": TITLE_LENGTH})
    return None


def check_theme(theme: str) -> Refusal | None:
    if len(theme.strip()) > THEME_LENGTH:
        return Refusal("workshop_theme_too_long", {"limit": THEME_LENGTH})
    return None


def check_times(start: datetime, end: datetime) -> Refusal | None:
    """The end comes after the start, within believable years, and the workshop lasts a
    believable time."""
    if not (FIRST_MOMENT <= start < LAST_MOMENT and FIRST_MOMENT <= end < LAST_MOMENT):
        return Refusal("workshop_date_out_of_range")
    if end <= start:
        return Refusal("workshop_end_before_start")
    length = end - start
    if length < timedelta(minutes=MIN_MINUTES):
        return Refusal("workshop_too_short", {"minutes": MIN_MINUTES})
    if length > timedelta(hours=MAX_HOURS):
        return Refusal("workshop_too_long", {"hours": MAX_HOURS})
    return None


def check_team_size(animator_ids: Sequence[object], machine_ids: Sequence[object]) -> Refusal | None:
    """A workshop has a few animators and uses a few machines, not thousands."""
    if len(set(animator_ids)) > MAX_ANIMATORS:
        return Refusal("too_many_animators", {"limit": MAX_ANIMATORS})
    if len(set(machine_ids)) > MAX_MACHINES:
        return Refusal("too_many_machines", {"limit": MAX_MACHINES})
    return None


def check_capacity(registration: bool, capacity: object) -> Refusal | None:
    """A workshop that takes registrations has at least one place; one that doesn't may say
    nothing, or give a whole number."""
    if capacity is None:
        return Refusal("capacity_needed") if registration else None
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        return Refusal("capacity_invalid", {"limit": MAX_CAPACITY})
    if not 1 <= capacity <= MAX_CAPACITY:
        return Refusal("capacity_invalid", {"limit": MAX_CAPACITY})
    return None


def check_capacity_change(new_capacity: int | None, registered: int) -> Refusal | None:
    """Lowering the capacity never takes a place from someone already registered."""
    if new_capacity is not None and new_capacity < registered:
        return Refusal("capacity_below_registered", {"registered": registered})
    return None


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def check_attendance(counts: Iterable[HeadCount]) -> Refusal | None:
    """Head counts per audience: known audiences, each once, whole numbers, first-timers
    no more than the people who came."""
    seen: set[str] = set()
    for count in counts:
        if count.audience not in AUDIENCES:
            return Refusal("unknown_audience", {"audience": str(count.audience)[:40],
                                                "known": ", ".join(AUDIENCES)})
        if count.audience in seen:
            return Refusal("audience_twice", {"audience": count.audience})
        seen.add(count.audience)
        head, first = _whole(count.head_count), _whole(count.first_timers)
        fr, en = AUDIENCE_NAMES[count.audience]
        named = {"audience": count.audience, "audience_fr": fr, "audience_en": en}
        if head is None or not 0 <= head <= MAX_HEAD_COUNT:
            return Refusal("head_count_invalid", {**named, "limit": MAX_HEAD_COUNT})
        if first is None or first < 0:
            return Refusal("first_timers_invalid", named)
        if first > head:
            return Refusal("first_timers_over_head_count",
                           {**named, "first_timers": first, "head_count": head})
    return None


def kept_counts(counts: Iterable[HeadCount]) -> list[HeadCount]:
    """The audiences worth a row: someone came (a checked list; zeros say nothing)."""
    return [c for c in counts if c.head_count]


# --- registration and the waiting list ------------------------------------------------

@dataclass(frozen=True)
class Seat:
    """An active registration: registered (has a place) or waiting, in the order asked."""

    id: int
    status: str  # "registered" | "waiting"
    created_at: datetime


def status_for_newcomer(capacity: int | None, registered: int) -> str:
    """A place if one is left, else the waiting list. No capacity means no limit."""
    if capacity is None or registered < capacity:
        return "registered"
    return "waiting"


def places_left(capacity: int | None, registered: int) -> int | None:
    if capacity is None:
        return None
    return max(capacity - registered, 0)


def moving_up(capacity: int | None, seats: Sequence[Seat]) -> list[int]:
    """Ids of the waiting registrations that get a place now, oldest first: as many as there
    are free places (a place freed by a cancellation, or a larger capacity)."""
    waiting = sorted((s for s in seats if s.status == "waiting"), key=lambda s: (s.created_at, s.id))
    if capacity is None:
        return [s.id for s in waiting]
    registered = sum(1 for s in seats if s.status == "registered")
    free = max(capacity - registered, 0)
    return [s.id for s in waiting[:free]]


def check_open_for_registration(status: str, registration: bool, starts_at: datetime,
                                now: datetime) -> Refusal | None:
    if status == "cancelled":
        return Refusal("workshop_cancelled")
    if not registration:
        return Refusal("registration_off")
    if status != "planned" or starts_at <= now:
        return Refusal("registration_closed")
    return None


def check_name(name: str) -> Refusal | None:
    text = name.strip()
    if not text:
        return Refusal("registration_name_needed")
    if len(text) > NAME_LENGTH:
        return Refusal("registration_name_too_long", {"limit": NAME_LENGTH})
    return None


# --- logging a finished workshop from a phone ---------------------------------------

def default_log_times(now_local: datetime, step_minutes: int = 15,
                      hours: int = 2) -> tuple[datetime, datetime]:
    """The likeliest times of a workshop logged right after it ended: it ended at the last
    quarter hour and lasted two hours."""
    minute = (now_local.minute // step_minutes) * step_minutes
    end = now_local.replace(minute=minute, second=0, microsecond=0)
    return end - timedelta(hours=hours), end


def title_suggestions(recent_titles: Iterable[str], limit: int = 20) -> list[str]:
    """The site's recent titles, newest first, each once (whatever its case or spaces)."""
    seen: set[str] = set()
    chosen = []
    for title in recent_titles:
        key = " ".join(title.split()).casefold()
        if key and key not in seen:
            seen.add(key)
            chosen.append(" ".join(title.split()))
        if len(chosen) >= limit:
            break
    return chosen


def needs_log(status: str, starts_at: datetime, now: datetime) -> bool:
    """A planned workshop that has begun waits for its attendance to be noted."""
    return status == "planned" and starts_at <= now
