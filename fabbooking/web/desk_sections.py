"""What each page of the animator desk shows. The desk is one page per section (today, a
person, booking for them, trainings, machines, closures), so each reads only what it shows;
the chosen person (``maker``) travels from one to the next in the links and forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fabbooking.accounts import services as accounts
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings import services as bookings
from fabbooking.bookings.availability import free_intervals
from fabbooking.bookings.rules import RULE_NAMES, BookingRules
from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.notifications.addresses import reach
from fabbooking.schedule.day import day_bounds
from fabbooking.training import services as training
from fabbooking.usage import services as usage
from fabbooking.web.desk_forms import (
    MACHINE_STATUSES,
    FreeStretch,
    clock_choices,
    day_choices,
    duration_choices,
    free_stretches,
    next_clock,
    read_clock,
    read_day,
)

PERSON_COLUMNS = (Account.id, Account.username, Account.display_name, Account.role)
SEARCH_LIMIT = 20
# The desk's pages, in the order of its tabs: the address after /desk/<site>, the page's
# template, and the piece of it that htmx gets alone.
SECTIONS = {
    "today": ("", "desk.html", "_desk_today.html"),
    "person": ("/person", "desk_person.html", "_desk_person.html"),
    "book": ("/book", "desk_book.html", "_desk_book.html"),
    "training": ("/training", "desk_training.html", "_desk_training.html"),
    "machines": ("/machines", "desk_machines.html", "_desk_machines.html"),
    "closures": ("/closures", "desk_closures.html", "_desk_closures.html"),
}


def section_url(slug: str, section: str, maker_id: int | None = None, **query: object) -> str:
    """The address of a desk page, carrying the chosen person."""
    pairs = ([("maker", maker_id)] if maker_id is not None else []) + [
        (k, v) for k, v in query.items() if v not in (None, "")]
    return f"/desk/{slug}{SECTIONS[section][0]}" + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")


def chosen_section(name: str | None, default: str = "person") -> str:
    return name if name in SECTIONS else default


async def person(account_id: int | None) -> dict[str, Any] | None:
    if account_id is None:
        return None
    return await Account.select(*PERSON_COLUMNS, Account.email).where(
        (Account.id == account_id) & Account.active.eq(True)
    ).first()


async def common(site: dict[str, Any], maker_id: int | None) -> dict[str, Any]:
    """What every desk page shows: the site, its time, the chosen person."""
    tz = network.zone(site["timezone"])
    now = datetime.now(UTC)
    return {"site": site, "tz": tz, "now": now, "today": now.astimezone(tz).date(),
            "person": await person(maker_id), "section_url": section_url}


async def _machines_with_states(slug: str) -> list[dict[str, Any]]:
    machines = await network.list_machines(slug)
    states = await usage.live_states([m["id"] for m in machines])
    for machine in machines:
        machine["live_state"] = states.get(machine["id"])
    return machines


async def today(viewer, site: dict[str, Any], tz: ZoneInfo, now: datetime, today: date) -> dict[str, Any]:
    """Today's machines, their states and bookings first; then what the machines reported."""
    day_start, day_end = day_bounds(today, tz)
    rows = await bookings.list_bookings(viewer, site_slug=site["slug"], start=day_start, end=day_end)
    by_machine: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] != "cancelled":
            by_machine.setdefault(row["machine"], []).append(row)
    return {"machines": await _machines_with_states(site["slug"]), "today_bookings": by_machine,
            "maintenance_due": await usage.due_maintenance(site["id"]),
            "walk_ins": await usage.walk_ins(site["id"], day_start, now)}


async def people(viewer: Viewer, search: str) -> list[dict[str, Any]]:
    """The people the desk's search finds: makers for an animator, anybody for an admin."""
    if not search.strip():
        return []
    ids = await accounts.search_accounts(search, limit=SEARCH_LIMIT, roles=accounts.roles_found_by(viewer))
    if not ids:
        return []
    return await Account.select(*PERSON_COLUMNS).where(
        Account.id.is_in(ids) & Account.active.eq(True)
    ).order_by(Account.display_name)


async def finding(viewer: Viewer, search: str, chosen: dict[str, Any] | None) -> dict[str, Any]:
    return {"search": search, "found": await people(viewer, search),
            "person_reach": await reach(chosen["id"], chosen["email"]) if chosen else None,
            "qualifications": await training.qualifications_of(chosen["id"]) if chosen else [],
            "min_password": Account._min_password_length}


async def booking_for_someone(site: dict[str, Any], tz: ZoneInfo, now: datetime, today: date,
                              machine_id: int | None, day: str | None, start: str | None) -> dict[str, Any]:
    """The machine and day chosen (the first machine and today at first), the machine's free
    stretches that day, and the choices of the booking form."""
    rules = BookingRules().overridden_by({name: site[name] for name in RULE_NAMES})
    days = day_choices(today, rules)
    chosen_day = read_day(day)
    if chosen_day not in days:
        chosen_day = today
    machines = await network.list_machines(site["slug"])
    machine = next((m for m in machines if m["id"] == machine_id), machines[0] if machines else None)
    stretches: list[FreeStretch] = []
    clocks: list[time] = []
    if machine is not None:
        place = await network.machine_place(machine["id"])
        rules = place.facts.rules
        begin, end = day_bounds(chosen_day, tz)
        busy = await bookings.busy_intervals(machine["id"], begin, end)
        stretches = free_stretches(free_intervals(begin, end, now, place.facts, busy), tz, rules)
        opening = [(p.opens, p.closes) for p in place.facts.opening if p.weekday == chosen_day.weekday()]
        clocks = clock_choices(opening, rules.slot_minutes)
    free_starts = [c for s in stretches for c in s.starts]
    wanted = read_clock(start)
    chosen_start = wanted if wanted in clocks else (free_starts[0] if free_starts else (
        next_clock(now.astimezone(tz), clocks) if chosen_day == today else None) or (clocks[0] if clocks else None))
    return {"machines": machines, "machine": machine, "days": days, "day": chosen_day,
            "stretches": stretches, "clocks": clocks, "durations": duration_choices(rules),
            "default_start": chosen_start.strftime("%H:%M") if chosen_start else ""}


async def booked(viewer, booking_id: int | None) -> dict[str, Any] | None:
    if booking_id is None:
        return None
    try:
        return await bookings.get_booking(viewer, booking_id)
    except Refused:
        return None


async def trainings_of(chosen: dict[str, Any] | None) -> dict[str, Any]:
    return {"trainings": await training.list_trainings(),
            "qualifications": await training.qualifications_of(chosen["id"]) if chosen else []}


async def machine_states(site: dict[str, Any]) -> dict[str, Any]:
    return {"machines": await _machines_with_states(site["slug"]), "statuses": MACHINE_STATUSES}


async def closures(site: dict[str, Any], today: date) -> dict[str, Any]:
    calendar = (await network.site_calendars([site["id"]]))[site["id"]]
    return {"closures": [c for c in calendar.closure_rows if c["end_date"] >= today]}
