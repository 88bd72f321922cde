"""Sites and machines: reading them, and changing them for the people allowed to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.calendar import ClosedDays
from fabbooking.bookings.calendar import OpeningPeriod as Period
from fabbooking.bookings.rules import RULE_NAMES, BookingRules, MachineFacts
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.network.tables import Closure, Machine, OpeningPeriod, Site
from fabbooking.prepared import Prepared, quick_rows
from fabbooking.references.kept import Kept
from fabbooking.training.tables import Training

SITE_FIELDS = ("name", "kind", "neighbourhood", "address", "timezone", "description",
               "no_show_grace_minutes", "reminder_hour", *RULE_NAMES)
UNAVAILABLE = ("maintenance", "out_of_order")  # the machine statuses its bookers are told of
MACHINE_FIELDS = ("name", "kind", "status", "description", "specs", "required_training",
                  *RULE_NAMES)


def site_not_found(slug: str) -> Refused:
    return Refused.not_found(f"le lieu « {slug} »", f"the place “{slug}”")


def machine_not_found(machine_id: int) -> Refused:
    return Refused.not_found(f"la machine n° {machine_id}", f"machine #{machine_id}")


def zone(name: str) -> ZoneInfo:
    if not name:
        raise Refused("invalid_timezone", timezone=name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused("invalid_timezone", timezone=name) from None


_SITES = Prepared(lambda: Site.select().order_by(Site.name))
_SITE = Prepared(lambda slug: Site.select().where(Site.slug == slug).limit(1))


async def list_sites() -> list[dict[str, Any]]:
    return await _SITES.rows()


async def get_site(slug: str) -> dict[str, Any]:
    if "\x00" in slug:  # PostgreSQL refuses a NUL byte outright; no slug has one
        raise site_not_found(slug.replace("\x00", ""))
    site = await _SITE.first(slug=slug)
    if site is None:
        raise site_not_found(slug)
    return site


@dataclass(frozen=True)
class SiteCalendar:
    """A site's weekly opening hours and closures: as rows (to show) and as the periods and
    closed days the booking rules take."""

    opening_rows: list[dict[str, Any]]
    closure_rows: list[dict[str, Any]]

    @property
    def periods(self) -> list[Period]:
        return [Period(p["weekday"], p["opens"], p["closes"]) for p in self.opening_rows]

    @property
    def closures(self) -> list[ClosedDays]:
        return [ClosedDays(c["start_date"], c["end_date"], c["reason"]) for c in self.closure_rows]


# Opening periods and closures of several sites in one statement; times and dates as text,
# which both databases give in ISO form.
_CALENDARS = """SELECT site, 'open' AS what, id, weekday, CAST(opens AS TEXT) AS first,
        CAST(closes AS TEXT) AS last, NULL AS reason FROM opening_period WHERE site IN ({sites})
    UNION ALL
    SELECT site, 'closed' AS what, id, NULL AS weekday, CAST(start_date AS TEXT) AS first,
        CAST(end_date AS TEXT) AS last, reason FROM closure WHERE site IN ({sites})"""


async def site_calendars(site_ids: list[int]) -> dict[int, SiteCalendar]:
    """Every listed site's calendar, in one query (sites without hours get empty ones)."""
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    marks = ", ".join("{}" for _ in ids)
    rows = await quick_rows(OpeningPeriod, _CALENDARS.format(sites=marks), *ids, *ids)
    opening: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    closed: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for r in rows:
        if r["what"] == "open":
            opening[r["site"]].append({"id": r["id"], "site": r["site"], "weekday": r["weekday"],
                                       "opens": time.fromisoformat(r["first"]),
                                       "closes": time.fromisoformat(r["last"])})
        else:
            closed[r["site"]].append({"id": r["id"], "site": r["site"],
                                      "start_date": date.fromisoformat(r["first"]),
                                      "end_date": date.fromisoformat(r["last"]), "reason": r["reason"]})
    return {i: SiteCalendar(sorted(opening[i], key=lambda p: (p["weekday"], p["opens"])),
                            sorted(closed[i], key=lambda c: c["start_date"])) for i in ids}


async def opening_rows(site_id: int) -> list[dict[str, Any]]:
    return await OpeningPeriod.select().where(OpeningPeriod.site == site_id).order_by(
        OpeningPeriod.weekday
    ).order_by(OpeningPeriod.opens)


async def closure_rows(site_id: int) -> list[dict[str, Any]]:
    return await Closure.select().where(Closure.site == site_id).order_by(Closure.start_date)


def require_staff(viewer: Viewer, site_id: int) -> None:
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    if not viewer.is_staff_of(site_id):
        raise Refused("not_staff_of_site")


async def create_site(viewer: Viewer, slug: str, values: dict[str, Any]) -> dict[str, Any]:
    if not viewer.is_admin:
        raise Refused("forbidden")
    zone(values.get("timezone") or "Europe/Paris")
    try:
        await Site.insert(Site(slug=slug, **_only(values, SITE_FIELDS)))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Refused("slug_taken", slug=slug) from None
        raise
    return await get_site(slug)


async def update_site(viewer: Viewer, slug: str, values: dict[str, Any]) -> dict[str, Any]:
    site = await get_site(slug)
    require_staff(viewer, site["id"])
    if "timezone" in values:  # an empty one too: a site without a clock takes its pages down
        zone(values["timezone"] or "")
    changes = _only(values, SITE_FIELDS)
    if changes:
        await Site.update(changes).where(Site.id == site["id"])
    return await get_site(slug)


async def replace_opening_hours(
    viewer: Viewer, slug: str, periods: list[tuple[int, time, time]]
) -> list[dict[str, Any]]:
    site = await get_site(slug)
    require_staff(viewer, site["id"])
    for weekday, opens, closes in periods:
        if not 0 <= weekday <= 6:
            raise Refused("invalid_input", problems="le jour va de 0 (lundi) à 6 (dimanche)",
                          problems_en="weekday goes from 0 (Monday) to 6 (Sunday)")
        if closes <= opens and closes != time(0, 0):
            raise Refused("invalid_opening_period", opens=opens.strftime("%H:%M"),
                          closes=closes.strftime("%H:%M"))
    async with database.DB.transaction():
        await OpeningPeriod.delete().where(OpeningPeriod.site == site["id"])
        if periods:
            await OpeningPeriod.insert(
                *[OpeningPeriod(site=site["id"], weekday=w, opens=o, closes=c) for w, o, c in periods]
            )
    return await opening_rows(site["id"])


async def add_closure(
    viewer: Viewer, slug: str, start: date, end: date, reason: str
) -> dict[str, Any]:
    site = await get_site(slug)
    require_staff(viewer, site["id"])
    if end < start:
        raise Refused("invalid_closure")
    rows = await Closure.insert(
        Closure(site=site["id"], start_date=start, end_date=end, reason=reason.strip()[:200])
    ).returning(Closure.id)
    return await Closure.select().where(Closure.id == rows[0]["id"]).first()


async def remove_closure(viewer: Viewer, slug: str, closure_id: int) -> None:
    site = await get_site(slug)
    require_staff(viewer, site["id"])
    deleted = await Closure.delete().where(
        (Closure.id == closure_id) & (Closure.site == site["id"])
    ).returning(Closure.id)
    if not deleted:
        raise Refused.not_found(f"la fermeture n° {closure_id}", f"closure #{closure_id}")


MACHINE_COLUMNS = (Machine.all_columns(), Machine.site.slug.as_alias("site_slug"),
                   Machine.site.timezone.as_alias("timezone"),
                   Machine.required_training.name.as_alias("required_training_name"))


def _machines():
    return Machine.select(*MACHINE_COLUMNS).order_by(Machine.site.name).order_by(Machine.name)


_MACHINES = Prepared(_machines)
_MACHINES_OF_SITE = Prepared(lambda slug: _machines().where(Machine.site.slug == slug))


async def list_machines(site_slug: str | None = None, kind: str | None = None) -> list[dict]:
    if kind:
        query = _machines().where(Machine.kind == kind)
        machines = await (query.where(Machine.site.slug == site_slug) if site_slug else query)
    elif site_slug:
        machines = await _MACHINES_OF_SITE.rows(slug=site_slug)
    else:
        machines = await _MACHINES.rows()
    if not machines and site_slug and not await Site.exists().where(Site.slug == site_slug):
        raise site_not_found(site_slug)
    return machines


async def get_machine(machine_id: int) -> dict[str, Any]:
    row = await Machine.select(*MACHINE_COLUMNS).where(Machine.id == machine_id).first()
    if row is None:
        raise machine_not_found(machine_id)
    return row


async def _check_training(training_id: int | None) -> None:
    if training_id is not None and not await Training.exists().where(Training.id == training_id):
        raise Refused.not_found(f"la formation n° {training_id}", f"training #{training_id}")


async def create_machine(viewer: Viewer, site_slug: str, slug: str, values: dict[str, Any]) -> dict:
    site = await get_site(site_slug)
    require_staff(viewer, site["id"])
    await _check_training(values.get("required_training"))
    if await Machine.exists().where((Machine.site == site["id"]) & (Machine.slug == slug)):
        raise Refused("slug_taken", slug=slug)
    rows = await Machine.insert(
        Machine(site=site["id"], slug=slug, **_only(values, MACHINE_FIELDS))
    ).returning(Machine.id)
    return await get_machine(rows[0]["id"])


async def update_machine(viewer: Viewer, machine_id: int, values: dict[str, Any]) -> dict:
    machine = await get_machine(machine_id)
    require_staff(viewer, machine["site"])
    if "required_training" in values:
        await _check_training(values["required_training"])
    changes = _only(values, MACHINE_FIELDS)
    if changes:
        async with database.write_transaction():
            await Machine.update(changes).where(Machine.id == machine_id)
            status = getattr(changes.get("status"), "value", changes.get("status"))
            if status in UNAVAILABLE and status != machine["status"]:
                from fabbooking.notifications import events

                await events.machine_unavailable(machine_id, status, datetime.now(UTC))
    return await get_machine(machine_id)


@dataclass(frozen=True)
class MachinePlace:
    machine_id: int
    site_id: int
    site_slug: str
    facts: MachineFacts
    # the machine's row (as get_machine gives it, plus ``site_name`` and the site's own
    # cancellation deadline, which a booking's row shows), for pages
    machine: dict[str, Any] = field(default_factory=dict, compare=False)


async def site_rules(site_ids: list[int]) -> dict[int, BookingRules]:
    """Each site's default booking rules, in one query."""
    if not site_ids:
        return {}
    sites = await Site.select(Site.id, *[getattr(Site, n) for n in RULE_NAMES]).where(
        Site.id.is_in(list(set(site_ids))))
    return {s["id"]: BookingRules().overridden_by({n: s[n] for n in RULE_NAMES}) for s in sites}


_PLACE_COLUMNS = (*MACHINE_COLUMNS, Machine.site.name.as_alias("site_name"),
                  *[getattr(Machine.site, n).as_alias(f"site_{n}") for n in RULE_NAMES])
_PLACE = Prepared(lambda machine_id: Machine.select(*_PLACE_COLUMNS).where(Machine.id == machine_id).limit(1))


# kept between requests while none of the tables it is read from is written (references.kept)
_KEPT_PLACES: Kept[MachinePlace] = Kept(("machine", "site", "training", "opening_period", "closure"))


async def machine_place(machine_id: int, counters: dict[str, int] | None = None) -> MachinePlace:
    """Everything the booking rules need to know about a machine and its site: kept, or read
    in two queries (the machine with its site's rules, and the site's calendar). ``counters``:
    see Kept.get."""
    async def read() -> MachinePlace | None:
        machine = await _PLACE.first(machine_id=machine_id)
        if machine is None:
            return None
        return _place(machine, (await site_calendars([machine["site"]]))[machine["site"]])

    place = await _KEPT_PLACES.get(machine_id, read, counters)
    if place is None:
        raise machine_not_found(machine_id)
    return place


async def site_places(site: dict[str, Any]) -> list[MachinePlace]:
    """The places of every machine of a site, by name, in two queries."""
    machines = await Machine.select(*_PLACE_COLUMNS).where(Machine.site == site["id"]).order_by(Machine.name)
    calendar = (await site_calendars([site["id"]]))[site["id"]]
    return [_place(m, calendar) for m in machines]


async def network_places(calendars: dict[int, SiteCalendar]) -> list[MachinePlace]:
    """The places of every machine of the network, by site name then machine name, in one
    query (``calendars``: every site's, as site_calendars gives them)."""
    machines = await Machine.select(*_PLACE_COLUMNS).order_by(Machine.site.name).order_by(Machine.name)
    return [_place(m, calendars.get(m["site"], SiteCalendar([], []))) for m in machines]


_PLACE_SITE_KEYS = ("site_slug", "site_name", "site_cancel_deadline_minutes")


def _place(machine: dict[str, Any], calendar: SiteCalendar) -> MachinePlace:
    rules = BookingRules().overridden_by({n: machine[f"site_{n}"] for n in RULE_NAMES})
    rules = rules.overridden_by({n: machine[n] for n in RULE_NAMES})
    facts = MachineFacts(
        kind=machine["kind"],
        status=machine["status"],
        timezone=zone(machine["timezone"]),
        rules=rules,
        opening=calendar.periods,
        closures=calendar.closures,
        required_training_id=machine["required_training"],
        required_training_name=machine["required_training_name"] or "",
    )
    row = {k: v for k, v in machine.items() if not k.startswith("site_") or k in _PLACE_SITE_KEYS}
    return MachinePlace(machine["id"], machine["site"], machine["site_slug"], facts, row)


def _only(values: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in allowed}
