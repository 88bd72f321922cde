"""Recurring workshops: a series planned every week, every other week or on chosen days.

Each date is a workshop of its own whose machines are held through the booking rules, like
any planned workshop (so it is moved or cancelled alone with the workshop's own services).
Before anything is written, the conflicts of every date are read at once — one query for
the bookings of the whole span, however many dates — and listed; the animator then plans
all or nothing, or skips the conflicting dates. Writing is one transaction: the booking
rules run again on the machines locked, then one multi-row insert per table; a booking made
meanwhile that takes one of the slots undoes the whole series, and the database's overlap
protection stays the last word.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.calendar import Interval
from fabbooking.bookings.rules import (
    LONGEST_BOOKING,
    BookingRequest,
    check_conflicts,
    check_period,
)
from fabbooking.bookings.services import INACTIVE
from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus
from fabbooking.errors import Refused, is_overlap_violation
from fabbooking.ids import is_id
from fabbooking.messages import render
from fabbooking.network.services import MachinePlace, get_site, require_staff, site_places, zone
from fabbooking.network.tables import Machine
from fabbooking.observability import metrics
from fabbooking.workshops import recurrence, rules
from fabbooking.workshops.access import raise_if
from fabbooking.workshops.recurrence import Frequency, Occurrence
from fabbooking.workshops.registrations import ACTIVE, lock_seats
from fabbooking.workshops.services import (
    WorkshopDraft,
    _check_team_and_machines,
    _columns,
    _who,
    check_draft,
)
from fabbooking.workshops.tables import (
    Registration,
    RegistrationStatus,
    Workshop,
    WorkshopAnimator,
    WorkshopMachine,
    WorkshopSeries,
    WorkshopStatus,
)


class OnConflict:
    refuse = "refuse"  # all or nothing
    skip = "skip"  # leave out the dates in conflict


@dataclass(frozen=True)
class SeriesDraft:
    """A series as asked for: the first date's workshop (its local start and end times are
    every date's) and how it repeats."""

    workshop: WorkshopDraft
    frequency: str
    until: date | None = None
    dates: tuple[date, ...] = ()


@dataclass(frozen=True)
class Conflict:
    """Why one machine cannot be held on one date: taken by someone (``holder``) or refused
    by a booking rule (``code``, e.g. closed that day)."""

    machine_id: int
    machine_name: str
    code: str
    reason_fr: str
    reason_en: str
    holder: str | None = None
    booking_id: int | None = None


@dataclass(frozen=True)
class PlannedDate:
    occurrence: Occurrence
    conflicts: tuple[Conflict, ...]


@dataclass(frozen=True)
class SeriesPreview:
    site: dict[str, Any]
    workshop: WorkshopDraft
    dates: tuple[PlannedDate, ...]
    machine_names: dict[int, str]

    @property
    def conflicting(self) -> list[PlannedDate]:
        return [d for d in self.dates if d.conflicts]

    @property
    def free(self) -> list[PlannedDate]:
        return [d for d in self.dates if not d.conflicts]


# --- the dates and their conflicts (read only) ----------------------------------------

def _dates(site: dict[str, Any], draft: SeriesDraft, workshop: WorkshopDraft,
           now: datetime) -> list[Occurrence]:
    timezone = zone(site["timezone"])
    start = workshop.starts_at.astimezone(timezone)
    end = workshop.ends_at.astimezone(timezone)
    days = recurrence.series_days(draft.frequency, start.date(), draft.until, draft.dates)
    if not isinstance(days, list):
        raise Refused.because(days)
    found = recurrence.occurrences(days, start.time().replace(tzinfo=None),
                                   end.time().replace(tzinfo=None), timezone)
    for occurrence in found:
        raise_if(rules.check_times(occurrence.starts_at, occurrence.ends_at))
        if occurrence.starts_at <= now:
            raise Refused("series_date_in_past", day=occurrence.day)
    return found


async def _bookings_near(machine_ids: list[int], dates: list[Occurrence],
                         margin: timedelta) -> list[dict[str, Any]]:
    """The active bookings of the machines around every date, in one query."""
    if not machine_ids or not dates:
        return []
    near = reduce(operator.or_, [
        (Booking.start_at > d.starts_at - margin - LONGEST_BOOKING)
        & (Booking.start_at < d.ends_at + margin) & (Booking.end_at > d.starts_at - margin)
        for d in dates])
    return await Booking.select(
        Booking.id, Booking.machine, Booking.start_at, Booking.end_at, Booking.purpose,
        Booking.note, Booking.maker.display_name.as_alias("maker_name"),
    ).where(Booking.machine.is_in(machine_ids) & Booking.status.not_in(list(INACTIVE)) & near)


def _holder(row: dict[str, Any]) -> str:
    if row["purpose"] == BookingPurpose.workshop.value:
        return row["note"] or "Atelier"
    return row["maker_name"]


def _conflict(place: MachinePlace, name: str, request: BookingRequest,
              bookings: list[dict[str, Any]]) -> Conflict | None:
    """The booking rules' answer for one machine on one date (pure)."""
    refusal = check_period(request, place.facts)
    if refusal is None:
        refusal = check_conflicts(request, place.facts,
                                  [Interval(b["start_at"], b["end_at"]) for b in bookings])
    if refusal is None:
        return None
    buffer = timedelta(minutes=place.facts.rules.buffer_minutes)
    wanted = Interval(request.start - buffer, request.end + buffer)
    taken = next((b for b in bookings if Interval(b["start_at"], b["end_at"]).overlaps(wanted)), None)
    return Conflict(machine_id=place.machine_id, machine_name=name, code=refusal.code,
                    reason_fr=render(refusal.code, "fr", **refusal.params),
                    reason_en=render(refusal.code, "en", **refusal.params),
                    holder=_holder(taken) if taken else None,
                    booking_id=taken["id"] if taken else None)


async def preview_series(viewer: Viewer, site_slug: str, draft: SeriesDraft,
                         now: datetime) -> SeriesPreview:
    """Every date of the series with what would stop it holding its machines. Reads a
    bounded number of statements whatever the number of dates; writes nothing."""
    site = await get_site(site_slug)
    require_staff(viewer, site["id"])
    workshop = _who(viewer, replace(draft.workshop, attendance=()))
    check_draft(workshop)
    dates = _dates(site, draft, workshop, now)
    names = await _check_team_and_machines(site["id"], workshop.animator_ids, workshop.machine_ids)
    places = {p.machine_id: p for p in await site_places(site)} if workshop.machine_ids else {}
    margin = timedelta(minutes=max([p.facts.rules.buffer_minutes for p in places.values()] or [0]))
    bookings = await _bookings_near(list(workshop.machine_ids), dates, margin)
    planned = []
    for occurrence in dates:
        request = BookingRequest(occurrence.starts_at, occurrence.ends_at, now, by_staff=True)
        conflicts = []
        for machine_id in workshop.machine_ids:
            conflict = _conflict(places[machine_id], names[machine_id], request,
                                 [b for b in bookings if b["machine"] == machine_id])
            if conflict:
                conflicts.append(conflict)
        planned.append(PlannedDate(occurrence, tuple(conflicts)))
    return SeriesPreview(site, workshop, tuple(planned), names)


# --- writing --------------------------------------------------------------------------

async def plan_series(viewer: Viewer, site_slug: str, draft: SeriesDraft, on_conflict: str,
                      now: datetime) -> dict[str, Any]:
    """Plan every date (``on_conflict`` « refuse »: all or nothing) or every date without a
    conflict (« skip »), in one transaction. Returns the series with its workshops."""
    if on_conflict not in (OnConflict.refuse, OnConflict.skip):
        raise Refused("series_on_conflict_unknown")
    preview = await preview_series(viewer, site_slug, draft, now)
    if preview.conflicting and on_conflict == OnConflict.refuse:
        raise Refused("series_conflicts", status=409, count=len(preview.conflicting),
                      days_fr=", ".join(d.occurrence.day.strftime("%d/%m/%Y") for d in preview.conflicting),
                      days_en=", ".join(d.occurrence.day.isoformat() for d in preview.conflicting))
    kept = [d.occurrence for d in preview.free]
    if not kept:
        raise Refused("series_nothing_left", status=409)
    try:
        series_id = await _write(viewer, preview, draft, kept, now)
    except Exception as exc:
        if is_overlap_violation(exc):  # the database's own guarantee, should the checks miss
            raise Refused("series_overlap_meanwhile", status=409) from None
        raise
    metrics.bookings_created.labels(BookingPurpose.workshop.value).inc(
        len(kept) * len(preview.workshop.machine_ids))
    return await get_series(viewer, series_id, now)


async def _still_free(preview: SeriesPreview, kept: list[Occurrence], now: datetime) -> None:
    """Inside the write transaction, the machines locked: the booking rules again, on what
    the database holds now. A slot taken (or a rule changed) since the preview refuses the
    whole series."""
    machine_ids = list(preview.workshop.machine_ids)
    if not machine_ids:
        return
    if database.is_postgres():  # in id order, as every writer takes them: no deadlock
        await Machine.select(Machine.id).where(Machine.id.is_in(machine_ids)).order_by(
            Machine.id).lock_rows()
    places = {p.machine_id: p for p in await site_places(preview.site)}
    margin = timedelta(minutes=max(places[m].facts.rules.buffer_minutes for m in machine_ids))
    bookings = await _bookings_near(machine_ids, kept, margin)
    for occurrence in kept:
        request = BookingRequest(occurrence.starts_at, occurrence.ends_at, now, by_staff=True)
        for machine_id in machine_ids:
            name = preview.machine_names[machine_id]
            conflict = _conflict(places[machine_id], name, request,
                                 [b for b in bookings if b["machine"] == machine_id])
            if conflict:
                raise Refused("series_changed_meanwhile", status=409, day=occurrence.day,
                              machine=name, reason_fr=conflict.reason_fr,
                              reason_en=conflict.reason_en)


async def _write(viewer: Viewer, preview: SeriesPreview, draft: SeriesDraft,
                 kept: list[Occurrence], now: datetime) -> int:
    """The series, its workshops, their animators and holds, as one multi-row insert each
    (a handful of statements whatever the number of dates), in one transaction."""
    workshop, site = preview.workshop, preview.site
    values = {column._meta.name: value for column, value in _columns(workshop).items()
              if column._meta.name not in ("starts_at", "ends_at")}
    note = f"Atelier : {workshop.title}"[:2000]
    async with database.write_transaction():
        await _still_free(preview, kept, now)
        series_id = (await WorkshopSeries.insert(WorkshopSeries(
            site=site["id"], title=workshop.title.strip(), frequency=Frequency(draft.frequency).value,
            until=draft.until if draft.frequency != Frequency.dates.value else None,
            created_by=viewer.account_id)).returning(WorkshopSeries.id))[0]["id"]
        await Workshop.insert(*[Workshop(
            site=site["id"], status=WorkshopStatus.planned.value, created_by=viewer.account_id,
            series=series_id, starts_at=o.starts_at, ends_at=o.ends_at, **values) for o in kept])
        # each workshop found by its start (the dates of a series are distinct days)
        workshops = {r["starts_at"]: r["id"] for r in await Workshop.select(
            Workshop.id, Workshop.starts_at).where(Workshop.series == series_id)}
        ids = [workshops[o.starts_at] for o in kept]
        await WorkshopAnimator.insert(*[WorkshopAnimator(workshop=w, account=a)
                                        for w in ids for a in workshop.animator_ids])
        if workshop.machine_ids:
            await Booking.insert(*[Booking(
                machine=m, maker=viewer.account_id, booked_by=viewer.account_id,
                start_at=o.starts_at, end_at=o.ends_at, note=note,
                purpose=BookingPurpose.workshop.value)
                for o in kept for m in workshop.machine_ids])
            holds = {(r["machine"], r["start_at"]): r["id"] for r in await Booking.select(
                Booking.id, Booking.machine, Booking.start_at).where(
                Booking.machine.is_in(list(workshop.machine_ids))
                & Booking.start_at.is_in([o.starts_at for o in kept])
                & (Booking.status == BookingStatus.confirmed.value))}
            await WorkshopMachine.insert(*[
                WorkshopMachine(workshop=workshops[o.starts_at], machine=m,
                                booking=holds[(m, o.starts_at)])
                for o in kept for m in workshop.machine_ids])
    return series_id


def series_not_found(series_id: int) -> Refused:
    return Refused.not_found(f"la série d'ateliers n° {series_id}", f"workshop series #{series_id}")


async def _series_for_staff(viewer: Viewer, series_id: int) -> dict[str, Any]:
    """The series, for its site's team only: anybody else is told it does not exist."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    row = await WorkshopSeries.select(
        WorkshopSeries.all_columns(), WorkshopSeries.site.slug.as_alias("site_slug"),
        WorkshopSeries.site.name.as_alias("site_name"),
        WorkshopSeries.site.timezone.as_alias("site_timezone"),
    ).where(WorkshopSeries.id == series_id).first() if is_id(series_id) else None
    if row is None or not viewer.is_staff_of(row["site"]):
        raise series_not_found(series_id)
    return row


async def get_series(viewer: Viewer, series_id: int, now: datetime) -> dict[str, Any]:
    """The series and each of its workshops (date, status), oldest first."""
    row = await _series_for_staff(viewer, series_id)
    row["workshops"] = await Workshop.select(
        Workshop.id, Workshop.starts_at, Workshop.ends_at, Workshop.status, Workshop.title,
    ).where(Workshop.series == series_id).order_by(Workshop.starts_at)
    timezone = zone(row["site_timezone"])
    for workshop in row["workshops"]:
        workshop["day"] = workshop["starts_at"].astimezone(timezone).date()
    return row


async def cancel_series(viewer: Viewer, series_id: int, now: datetime) -> dict[str, Any]:
    """Cancel every workshop of the series still to come: their machines are free again and
    their registrations cancelled. Workshops that have begun or are over stay as they are."""
    await _series_for_staff(viewer, series_id)
    async with database.write_transaction():
        coming = [r["id"] for r in await Workshop.select(Workshop.id).where(
            (Workshop.series == series_id) & (Workshop.status == WorkshopStatus.planned.value)
            & (Workshop.starts_at > now))]
        for workshop_id in coming:
            await lock_seats(workshop_id)
        if coming:
            await Workshop.update({Workshop.status: WorkshopStatus.cancelled.value}).where(
                Workshop.id.is_in(coming))
            held = [r["booking"] for r in await WorkshopMachine.select(WorkshopMachine.booking).where(
                WorkshopMachine.workshop.is_in(coming) & WorkshopMachine.booking.is_not_null())]
            if held:
                await Booking.update({Booking.status: BookingStatus.cancelled.value,
                                      Booking.cancelled_at: now,
                                      Booking.cancelled_by: viewer.account_id}).where(
                    Booking.id.is_in(held) & (Booking.status == BookingStatus.confirmed.value))
            await Registration.update({Registration.status: RegistrationStatus.cancelled.value,
                                       Registration.cancelled_at: now}).where(
                Registration.workshop.is_in(coming) & Registration.status.is_in(list(ACTIVE)))
        await WorkshopSeries.update({WorkshopSeries.cancelled_at: now}).where(
            WorkshopSeries.id == series_id)
    return await get_series(viewer, series_id, now)
