"""Sites and machines: reading them, and changing them for the people allowed to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.calendar import ClosedDays
from fabbooking.bookings.calendar import OpeningPeriod as Period
from fabbooking.bookings.rules import RULE_NAMES, BookingRules, MachineFacts
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.network.tables import Closure, Machine, OpeningPeriod, Site
from fabbooking.training.tables import Training

SITE_FIELDS = ("name", "kind", "neighbourhood", "address", "timezone", "description",
               "no_show_grace_minutes", *RULE_NAMES)
MACHINE_FIELDS = ("name", "kind", "status", "description", "specs", "required_training",
                  *RULE_NAMES)


def site_not_found(slug: str) -> Refused:
    return Refused.not_found(f"le lieu « {slug} »", f"the place “{slug}”")


def machine_not_found(machine_id: int) -> Refused:
    return Refused.not_found(f"la machine n° {machine_id}", f"machine #{machine_id}")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused("invalid_timezone", timezone=name) from None


async def list_sites() -> list[dict[str, Any]]:
    return await Site.select().order_by(Site.name)


async def get_site(slug: str) -> dict[str, Any]:
    if "\x00" in slug:  # PostgreSQL refuses a NUL byte outright; no slug has one
        raise site_not_found(slug.replace("\x00", ""))
    site = await Site.select().where(Site.slug == slug).first()
    if site is None:
        raise site_not_found(slug)
    return site


async def site_calendar(site_id: int) -> tuple[list[Period], list[ClosedDays]]:
    periods = await OpeningPeriod.select().where(OpeningPeriod.site == site_id)
    closures = await Closure.select().where(Closure.site == site_id)
    return (
        [Period(p["weekday"], p["opens"], p["closes"]) for p in periods],
        [ClosedDays(c["start_date"], c["end_date"], c["reason"]) for c in closures],
    )


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
    if values.get("timezone"):
        zone(values["timezone"])
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


async def list_machines(site_slug: str | None = None, kind: str | None = None) -> list[dict]:
    query = Machine.select(*MACHINE_COLUMNS).order_by(Machine.site.name).order_by(Machine.name)
    if site_slug:
        if not await Site.exists().where(Site.slug == site_slug):
            raise site_not_found(site_slug)
        query = query.where(Machine.site.slug == site_slug)
    if kind:
        query = query.where(Machine.kind == kind)
    return await query


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
        await Machine.update(changes).where(Machine.id == machine_id)
    return await get_machine(machine_id)


@dataclass(frozen=True)
class MachinePlace:
    machine_id: int
    site_id: int
    site_slug: str
    facts: MachineFacts


async def site_rules(site_ids: list[int]) -> dict[int, BookingRules]:
    """Each site's default booking rules, in one query."""
    if not site_ids:
        return {}
    sites = await Site.select(Site.id, *[getattr(Site, n) for n in RULE_NAMES]).where(
        Site.id.is_in(list(set(site_ids))))
    return {s["id"]: BookingRules().overridden_by({n: s[n] for n in RULE_NAMES}) for s in sites}


async def machine_place(machine_id: int) -> MachinePlace:
    """Everything the booking rules need to know about a machine and its site."""
    machine = await get_machine(machine_id)
    site = await Site.select().where(Site.id == machine["site"]).first()
    periods, closures = await site_calendar(site["id"])
    rules = BookingRules().overridden_by({n: site[n] for n in RULE_NAMES})
    rules = rules.overridden_by({n: machine[n] for n in RULE_NAMES})
    facts = MachineFacts(
        kind=machine["kind"],
        status=machine["status"],
        timezone=zone(site["timezone"]),
        rules=rules,
        opening=periods,
        closures=closures,
        required_training_id=machine["required_training"],
        required_training_name=machine["required_training_name"] or "",
    )
    return MachinePlace(machine_id, site["id"], site["slug"], facts)


def _only(values: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in allowed}
