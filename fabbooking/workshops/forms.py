"""The workshop forms of the pages: what they offer and how their answers are read.

Pure: no database, no HTTP. Days and times typed in a form are the site's local ones; they
become aware datetimes here. Errors are keyed by the id of the field to correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabbooking.messages import render
from fabbooking.web.desk_forms import read_clock, read_day, whole_number
from fabbooking.web.i18n import _, current_language
from fabbooking.workshops import rules
from fabbooking.workshops.rules import AUDIENCES, HeadCount

Errors = dict[str, str]


@dataclass(frozen=True)
class Entered:
    """A form's answers as typed: single values, and the ticked boxes of each list."""

    values: dict[str, str]
    lists: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def ticked(self, name: str) -> list[str]:
        return self.lists.get(name, [])


def _ids(texts: list[str]) -> tuple[int, ...]:
    return tuple(n for n in (whole_number(t) for t in texts) if n is not None)


def _count(text: str) -> int | None:
    """Empty means nobody; anything else must be a whole number (the rules check its range)."""
    text = text.strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        return None


def read_counts(form: Entered) -> tuple[tuple[HeadCount, ...], Errors]:
    """One head count and one first-timers count per audience; a message next to each
    number that cannot be right."""
    counts, errors = [], {}
    language = current_language.get()
    for audience in AUDIENCES:
        head, first = _count(form.get(f"count-{audience}")), _count(form.get(f"first-{audience}"))
        if head is None:
            errors[f"count-{audience}"] = _("Écrivez un nombre entier, 0 ou plus.")
        if first is None:
            errors[f"first-{audience}"] = _("Écrivez un nombre entier, 0 ou plus.")
        if head is None or first is None:
            continue
        count = HeadCount(audience, head, first)
        refusal = rules.check_attendance([count])
        if refusal:
            field = "first" if refusal.code.startswith("first_timers") else "count"
            errors[f"{field}-{audience}"] = render(refusal.code, language, **refusal.params)
        counts.append(count)
    return tuple(counts), errors


def read_times(form: Entered, tz: ZoneInfo) -> tuple[datetime | None, datetime | None, Errors]:
    errors: Errors = {}
    day = read_day(form.get("day"))
    if day is None:
        errors["ws-day"] = _("Indiquez le jour, comme 31/12/2026.")
    start, end = read_clock(form.get("start")), read_clock(form.get("end"))
    if start is None:
        errors["ws-start"] = _("Indiquez l'heure de début, comme 14:00.")
    if end is None:
        errors["ws-end"] = _("Indiquez l'heure de fin, comme 16:00.")
    if errors:
        return None, None, errors
    if not rules.FIRST_MOMENT.year <= day.year < rules.LAST_MOMENT.year:
        # Checked before converting: the year 1 in Paris is before the first UTC moment.
        errors["ws-day"] = render("workshop_date_out_of_range", current_language.get())
        return None, None, errors
    starts = datetime.combine(day, start, tzinfo=tz).astimezone(UTC)
    ends = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    refusal = rules.check_times(starts, ends)
    if refusal:
        errors["ws-end"] = render(refusal.code, current_language.get(), **refusal.params)
    return starts, ends, errors


@dataclass(frozen=True)
class WorkshopAnswers:
    title: str
    theme: str
    description: str
    starts_at: datetime
    ends_at: datetime
    public: bool
    registration: bool
    capacity: int | None
    notes: str
    animator_ids: tuple[int, ...]
    machine_ids: tuple[int, ...]
    attendance: tuple[HeadCount, ...]


def read_workshop(form: Entered, tz: ZoneInfo, with_counts: bool = False,
                  with_registration: bool = True) -> tuple[WorkshopAnswers | None, Errors]:
    """The plan, edit and « Noter un atelier » forms: the answers, or the fields to correct."""
    errors: Errors = {}
    language = current_language.get()
    title, theme = rules.clean_line(form.get("title")), rules.clean_line(form.get("theme"))
    for field, refusal in (("ws-title", rules.check_title(title)),
                           ("ws-theme", rules.check_theme(theme))):
        if refusal:
            errors[field] = render(refusal.code, language, **refusal.params)
    starts, ends, time_errors = read_times(form, tz)
    errors.update(time_errors)
    registration = with_registration and form.get("registration") == "on"
    capacity = None
    if with_registration and form.get("capacity").strip():
        capacity = whole_number(form.get("capacity"))
        if capacity is None:
            errors["ws-capacity"] = _("Écrivez un nombre entier de places, comme 8.")
    if "ws-capacity" not in errors:
        refusal = rules.check_capacity(registration, capacity)
        if refusal:
            errors["ws-capacity"] = render(refusal.code, language, **refusal.params)
    counts: tuple[HeadCount, ...] = ()
    if with_counts:
        counts, count_errors = read_counts(form)
        errors.update(count_errors)
    if errors:
        return None, errors
    return WorkshopAnswers(
        title=title, theme=theme, description=form.get("description"),
        starts_at=starts, ends_at=ends, public=form.get("public") == "on" if with_registration else False,
        registration=registration, capacity=capacity, notes=form.get("notes"),
        animator_ids=_ids(form.ticked("animator_ids")), machine_ids=_ids(form.ticked("machine_ids")),
        attendance=counts,
    ), {}


def read_attendance(form: Entered) -> tuple[tuple[HeadCount, ...] | None, tuple[int, ...], Errors]:
    """The attendance form of a planned workshop that took place."""
    counts, errors = read_counts(form)
    if errors:
        return None, (), errors
    return counts, _ids(form.ticked("machine_ids")), {}


def log_defaults(now: datetime, tz: ZoneInfo) -> dict[str, str]:
    """« Noter un atelier » filled in already: today, ended at the last quarter hour, two
    hours long."""
    start, end = rules.default_log_times(now.astimezone(tz))
    if end.time() == time(0):  # in the first quarter hour of the day: the evening before, to 23:45
        start, end = start - timedelta(minutes=15), end - timedelta(minutes=15)
    elif start.date() != end.date():  # just after midnight: keep both times on one day
        start = end.replace(hour=0, minute=0)
    return {"day": end.date().isoformat(), "start": start.strftime("%H:%M"),
            "end": end.strftime("%H:%M")}


def workshop_values(row: dict, tz: ZoneInfo) -> Entered:
    """A saved workshop as the edit form shows it."""
    start, end = row["starts_at"].astimezone(tz), row["ends_at"].astimezone(tz)
    values = {
        "title": row["title"], "theme": row["theme"], "description": row["description"],
        "day": start.date().isoformat(), "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"), "public": "on" if row["public"] else "",
        "registration": "on" if row["registration"] else "",
        "capacity": "" if row["capacity"] is None else str(row["capacity"]), "notes": row["notes"],
    }
    for count in row.get("attendance", []):
        values[f"count-{count['audience']}"] = str(count["head_count"])
        values[f"first-{count['audience']}"] = str(count["first_timers"])
    return Entered(values, {
        "machine_ids": [str(m["machine"]) for m in row.get("machines", [])],
        "animator_ids": [str(a["account"]) for a in row.get("animators", [])],
    })
