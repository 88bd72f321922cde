"""The network's schedule for one day, and every machine's booking state now: read in a
fixed number of statements whatever the number of sites and machines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.availability import free_intervals
from fabbooking.bookings.calendar import closure_on, opening_windows
from fabbooking.bookings.rules import check_qualification
from fabbooking.bookings.services import busy_by_machine
from fabbooking.network import services as network
from fabbooking.network.services import MachinePlace, SiteCalendar
from fabbooking.network.tables import MachineKind
from fabbooking.schedule.day import MachineDay, columns, day_bounds, machine_day, open_hours
from fabbooking.schedule.filters import Choices, Reading, ScheduleFilters, read_filters
from fabbooking.schedule.now import MachineNow, machine_now
from fabbooking.training.services import held_qualifications

DEFAULT_ZONE = "Europe/Paris"


@dataclass(frozen=True)
class ScheduleRow:
    place: MachinePlace
    day: MachineDay
    trained: bool | None  # None: we do not know who is looking


@dataclass(frozen=True)
class SiteDay:
    site: dict[str, Any]
    rows: list[ScheduleRow]
    closed: bool  # the site does not open that day
    closure_reason: str = ""


@dataclass(frozen=True)
class NetworkDay:
    filters: ScheduleFilters
    hours: list[int]  # local hour of each column
    sites: list[SiteDay]
    previous: date | None
    next: date | None

    @property
    def free_count(self) -> int:
        """Free stretches, every machine together."""
        return sum(len(row.day.stretches) for site in self.sites for row in site.rows)

    @property
    def free_machines(self) -> int:
        return sum(bool(row.day.stretches) for site in self.sites for row in site.rows)


@dataclass(frozen=True)
class Schedule:
    choices: Choices
    reading: Reading
    day: NetworkDay | None  # None when the address asked for something wrong
    sites: list[dict[str, Any]]


def network_zone(sites: list[dict[str, Any]]) -> ZoneInfo:
    """The timezone most sites keep: « today » and « tomorrow » are read in it."""
    counted = Counter(s["timezone"] for s in sites if s["timezone"])
    return network.zone(counted.most_common(1)[0][0] if counted else DEFAULT_ZONE)


async def network_schedule(viewer: Viewer, params: Mapping[str, str], now: datetime,
                           gettext: Callable[[str], str]) -> Schedule:
    """The day the address asks for; sites, calendars, machines and their bookings in four
    statements (five with the viewer's trainings), whatever their number."""
    sites = await network.list_sites()
    calendars = await network.site_calendars([s["id"] for s in sites])
    places = await network.network_places(calendars)
    today = now.astimezone(network_zone(sites)).date()
    ahead = max((p.facts.rules.max_days_ahead for p in places), default=30)
    choices = Choices(
        kinds=[k.value for k in MachineKind if any(p.facts.kind == k.value for p in places)],
        sites=[s["slug"] for s in sites],
        neighbourhoods=sorted({s["neighbourhood"] for s in sites if s["neighbourhood"]}),
        today=today, last_day=today + timedelta(days=ahead),
    )
    reading = read_filters(params, choices, gettext, viewer.is_authenticated)
    if reading.problems:
        return Schedule(choices, reading, None, sites)
    held = await held_qualifications(viewer.account_id) if viewer.account_id is not None else None
    day = await _network_day(reading.filters, sites, calendars, places, held, choices, now)
    return Schedule(choices, reading, day, sites)


async def _network_day(filters: ScheduleFilters, sites: list[dict[str, Any]],
                       calendars: dict[int, SiteCalendar], places: list[MachinePlace],
                       held: list | None, choices: Choices, now: datetime) -> NetworkDay:
    chosen_sites = [s for s in sites if (not filters.site or s["slug"] == filters.site)
                    and (not filters.neighbourhood or s["neighbourhood"] == filters.neighbourhood)]
    by_site: dict[int, list[MachinePlace]] = {s["id"]: [] for s in chosen_sites}
    for place in places:
        if place.site_id in by_site and (not filters.kind or place.facts.kind == filters.kind):
            if not filters.trained or _trained(place, held, filters.day) is not False:
                by_site[place.site_id].append(place)
    chosen_sites = [s for s in chosen_sites if by_site[s["id"]]]
    bounds = {s["id"]: day_bounds(filters.day, network.zone(s["timezone"])) for s in chosen_sites}
    start = min((b[0] for b in bounds.values()), default=now)
    end = max((b[1] for b in bounds.values()), default=now)
    busy = await busy_by_machine([p.machine_id for s in chosen_sites for p in by_site[s["id"]]], start, end)

    windows = {}
    hours: set[int] = set()
    for site in chosen_sites:
        tz = network.zone(site["timezone"])
        calendar = calendars[site["id"]]
        windows[site["id"]] = opening_windows(*bounds[site["id"]], tz, calendar.periods, calendar.closures)
        hours |= open_hours(filters.day, tz, windows[site["id"]])
    shown = columns(hours, filters.period)
    site_days = []
    for site in chosen_sites:
        tz = network.zone(site["timezone"])
        site_windows = windows[site["id"]]
        closure = closure_on(filters.day, calendars[site["id"]].closures)
        rows = []
        for place in by_site[site["id"]]:
            taken = busy[place.machine_id]
            free = free_intervals(*bounds[site["id"]], now, place.facts, taken)
            day = machine_day(filters.day, tz, shown, site_windows, taken, free, now,
                              place.facts.rules.min_minutes, filters.period)
            rows.append(ScheduleRow(place, day, _trained(place, held, filters.day)))
        site_days.append(SiteDay(site, rows, closed=not site_windows,
                                 closure_reason=closure.reason if closure else ""))
    return NetworkDay(
        filters=filters, hours=shown, sites=site_days,
        previous=filters.day - timedelta(days=1) if filters.day > choices.today else None,
        next=filters.day + timedelta(days=1) if filters.day < choices.last_day else None,
    )


def _trained(place: MachinePlace, held: list | None, day: date) -> bool | None:
    if held is None:
        return None
    return check_qualification(place.facts, held, day) is None


async def machines_now(machines: list[dict[str, Any]], calendars: dict[int, SiteCalendar],
                       now: datetime) -> dict[int, MachineNow]:
    """Each machine's booking state now (one statement: the bookings from now to a day on).
    ``machines``: rows with ``id``, ``site``, ``status`` and ``timezone``."""
    busy = await busy_by_machine([m["id"] for m in machines], now, now + timedelta(days=1))
    states = {}
    for machine in machines:
        tz = network.zone(machine["timezone"])
        calendar = calendars.get(machine["site"], SiteCalendar([], []))
        _, midnight = day_bounds(now.astimezone(tz).date(), tz)
        windows = opening_windows(now, midnight, tz, calendar.periods, calendar.closures)
        states[machine["id"]] = machine_now(machine["status"], windows, busy[machine["id"]], now)
    return states
