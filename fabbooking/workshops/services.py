"""Workshops: planning them (their machines held through the booking rules), logging them
after the fact, changing and cancelling them, and the public calendar.

Who may do what: a site's animators (and admins) plan, edit, cancel and log the site's
workshops; anybody reads public ones (see access.py). Places and the waiting list are in
registrations.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Sum

from fabbooking import database
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings import services as bookings
from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus
from fabbooking.errors import Refused
from fabbooking.ids import is_id
from fabbooking.messages import render
from fabbooking.network.services import get_site, require_staff
from fabbooking.network.tables import Machine, Staff
from fabbooking.workshops import rules
from fabbooking.workshops.access import (
    WORKSHOP_COLUMNS,
    raise_if,
    row_for_staff,
    visible_row,
)
from fabbooking.workshops.registrations import (
    ACTIVE,
    lock_seats,
    move_up,
    registration_counts,
)
from fabbooking.workshops.rules import HeadCount
from fabbooking.workshops.tables import (
    Attendance,
    Registration,
    RegistrationStatus,
    Workshop,
    WorkshopAnimator,
    WorkshopMachine,
    WorkshopStatus,
)

MAX_LISTED = 500
RECENT_TITLES = 100


@dataclass(frozen=True)
class WorkshopDraft:
    """What a person asks for when planning, editing or logging a workshop."""

    title: str
    starts_at: datetime
    ends_at: datetime
    theme: str = ""
    description: str = ""
    public: bool = True
    registration: bool = False
    capacity: int | None = None
    notes: str = ""
    animator_ids: tuple[int, ...] = ()
    machine_ids: tuple[int, ...] = ()
    attendance: tuple[HeadCount, ...] = field(default_factory=tuple)


def check_draft(draft: WorkshopDraft) -> None:
    """Every rule of a workshop's own fields, the first broken one raised."""
    for refusal in (rules.check_title(draft.title), rules.check_theme(draft.theme),
                    rules.check_times(draft.starts_at, draft.ends_at),
                    rules.check_capacity(draft.registration, draft.capacity),
                    rules.check_attendance(draft.attendance),
                    rules.check_team_size(draft.animator_ids, draft.machine_ids)):
        raise_if(refusal)


# --- reading ---------------------------------------------------------------------------

async def _with_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = await registration_counts([r["id"] for r in rows])
    for row in rows:
        row.update(counts[row["id"]])
        row["places_left"] = rules.places_left(row["capacity"], row["registered"]) \
            if row["registration"] else None
    return rows


async def _details(row: dict[str, Any]) -> dict[str, Any]:
    workshop_id = row["id"]
    row["machines"] = await WorkshopMachine.select(
        WorkshopMachine.machine, WorkshopMachine.machine.name.as_alias("name"),
        WorkshopMachine.booking, WorkshopMachine.booking.status.as_alias("booking_status"),
    ).where(WorkshopMachine.workshop == workshop_id).order_by(WorkshopMachine.machine.name)
    row["animators"] = await WorkshopAnimator.select(
        WorkshopAnimator.account, WorkshopAnimator.account.display_name.as_alias("name"),
    ).where(WorkshopAnimator.workshop == workshop_id).order_by(WorkshopAnimator.account.display_name)
    row["attendance"] = sorted(
        await Attendance.select().where(Attendance.workshop == workshop_id),
        key=lambda a: rules.AUDIENCES.index(a["audience"]) if a["audience"] in rules.AUDIENCES else 99,
    )
    (row,) = await _with_counts([row])
    return row


async def get_workshop(viewer: Viewer, workshop_id: int) -> dict[str, Any]:
    """A workshop with its machines, animators, attendance and places. The caller shows
    notes, animators and attendance to the site's team only."""
    return await _details(await visible_row(viewer, workshop_id))


async def list_workshops(
    viewer: Viewer,
    now: datetime,
    site_slug: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    public_only: bool = False,
    limit: int = MAX_LISTED,
    site: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Workshops from ``start`` (default: those not over yet) to ``end``: public ones for
    everybody, every one of a site for its team (unless ``public_only``). ``site``, when the
    caller already has the row of ``site_slug``, saves looking it up again."""
    query = Workshop.select(*WORKSHOP_COLUMNS).order_by(Workshop.starts_at).limit(min(limit, MAX_LISTED))
    if site_slug:
        site = site if site is not None and site["slug"] == site_slug else await get_site(site_slug)
        query = query.where(Workshop.site == site["id"])
    query = query.where(Workshop.ends_at > (start or now))
    if end is not None:
        query = query.where(Workshop.starts_at < end)
    shown = (Workshop.public == True) & (Workshop.status != WorkshopStatus.cancelled.value)  # noqa: E712
    if public_only or not viewer.is_staff_anywhere:
        query = query.where(shown)
    elif not viewer.is_admin:
        query = query.where(shown | Workshop.site.is_in(list(viewer.staff_site_ids)))
    return await _with_counts(await query)


async def site_workshops(viewer: Viewer, site_slug: str, now: datetime) -> dict[str, list]:
    """The desk's list: to log (begun, not logged), to come, and the last done or cancelled."""
    site = await get_site(site_slug)
    require_staff(viewer, site["id"])
    rows = await _with_counts(await Workshop.select(*WORKSHOP_COLUMNS).where(
        (Workshop.site == site["id"]) & (Workshop.starts_at > now - timedelta(days=120))
    ).order_by(Workshop.starts_at).limit(MAX_LISTED))
    totals = await attendance_totals([r["id"] for r in rows])
    for row in rows:
        row["attendance_total"] = totals.get(row["id"])
    to_log = [r for r in rows if rules.needs_log(r["status"], r["starts_at"], now)]
    upcoming = [r for r in rows if r["status"] == "planned" and r["starts_at"] > now]
    past = [r for r in reversed(rows) if r["status"] != "planned"][:50]
    return {"to_log": to_log, "upcoming": upcoming, "past": past}


async def attendance_totals(workshop_ids: list[int]) -> dict[int, int]:
    if not workshop_ids:
        return {}
    rows = await Attendance.select(Attendance.workshop, Sum(Attendance.head_count, alias="n")).where(
        Attendance.workshop.is_in(workshop_ids)).group_by(Attendance.workshop)
    return {r["workshop"]: int(r["n"] or 0) for r in rows}


async def recent_titles(site_id: int) -> list[str]:
    rows = await Workshop.select(Workshop.title).where(Workshop.site == site_id).order_by(
        Workshop.starts_at, ascending=False).limit(RECENT_TITLES)
    return rules.title_suggestions(r["title"] for r in rows)


async def site_team(site_id: int) -> list[dict[str, Any]]:
    """The people who may animate a workshop of the site."""
    return await Staff.select(Staff.account.id.as_alias("id"),
                              Staff.account.display_name.as_alias("name")).where(
        (Staff.site == site_id) & (Staff.account.active == True)  # noqa: E712
    ).order_by(Staff.account.display_name)


# --- planning, editing, cancelling, logging -------------------------------------------

async def _check_team_and_machines(site_id: int, animator_ids: tuple[int, ...],
                                   machine_ids: tuple[int, ...]) -> dict[int, str]:
    """Animators work at the site (or run the network); machines are the site's. Returns
    the machines' names."""
    if animator_ids:
        asked = [a for a in animator_ids if is_id(a)] or [-1]  # others name nobody
        staff = {r["account"] for r in await Staff.select(Staff.account).where(
            (Staff.site == site_id) & Staff.account.is_in(asked))}
        admins = {r["id"] for r in await Account.select(Account.id).where(
            Account.id.is_in(asked) & (Account.role == "admin"))}
        for account in animator_ids:
            if account not in staff | admins:
                raise Refused("animator_not_of_site", account=account)
    names: dict[int, str] = {}
    if machine_ids:
        asked = [m for m in machine_ids if is_id(m)] or [-1]
        names = {r["id"]: r["name"] for r in await Machine.select(Machine.id, Machine.name).where(
            (Machine.site == site_id) & Machine.id.is_in(asked))}
        for machine in machine_ids:
            if machine not in names:
                raise Refused("machine_not_of_site", machine=machine)
    return names


def _machine_refused(name: str, refused: Refused) -> Refused:
    return Refused("workshop_machine_refused", status=refused.status, machine=name,
                   reason_fr=render(refused.code, "fr", **refused.params),
                   reason_en=render(refused.code, "en", **refused.params))


async def _hold_machines(viewer: Viewer, workshop_id: int, title: str, names: dict[int, str],
                         machine_ids: tuple[int, ...], start: datetime, end: datetime,
                         now: datetime) -> None:
    """Hold each machine through the booking rules. Runs inside the caller's transaction:
    one refusal undoes every hold and the workshop itself. In id order, as a series and
    every other writer lock machines: two workshops sharing machines cannot deadlock."""
    for machine_id in sorted(machine_ids):
        try:
            booking = await bookings.book(viewer, machine_id, start, end, now,
                                          note=f"Atelier : {title}"[:2000],
                                          purpose=BookingPurpose.workshop)
        except Refused as refused:
            raise _machine_refused(names.get(machine_id, f"n° {machine_id}"), refused) from None
        await WorkshopMachine.insert(WorkshopMachine(workshop=workshop_id, machine=machine_id,
                                                     booking=booking["id"]))


async def _link_machines(workshop_id: int, machine_ids: tuple[int, ...]) -> None:
    """Machines used by a workshop that needs no hold (it took place already)."""
    if machine_ids:
        await WorkshopMachine.insert(*[WorkshopMachine(workshop=workshop_id, machine=m)
                                       for m in machine_ids])


async def _release_holds(viewer: Viewer, workshop_id: int, now: datetime,
                         machine_ids: list[int] | None = None) -> None:
    """Cancel the workshop's confirmed holds (of ``machine_ids`` only, when given)."""
    query = WorkshopMachine.select(WorkshopMachine.booking).where(
        (WorkshopMachine.workshop == workshop_id) & WorkshopMachine.booking.is_not_null())
    if machine_ids is not None:
        query = query.where(WorkshopMachine.machine.is_in(machine_ids or [-1]))
    held = [r["booking"] for r in await query]
    if held:
        freed = await Booking.update({Booking.status: BookingStatus.cancelled.value,
                                      Booking.cancelled_at: now, Booking.cancelled_by: viewer.account_id}
                                     ).where(Booking.id.is_in(held)
                                             & (Booking.status == BookingStatus.confirmed.value)
                                             ).returning(Booking.machine, Booking.start_at, Booking.end_at)
        from fabbooking.waiting.services import on_slot_freed

        for hold in freed:  # the machine is free again: those waiting for it are told
            await on_slot_freed(hold["machine"], hold["start_at"], hold["end_at"], now)


async def _set_animators(workshop_id: int, animator_ids: tuple[int, ...]) -> None:
    await WorkshopAnimator.delete().where(WorkshopAnimator.workshop == workshop_id)
    if animator_ids:
        await WorkshopAnimator.insert(*[WorkshopAnimator(workshop=workshop_id, account=a)
                                        for a in dict.fromkeys(animator_ids)])


async def _set_attendance(workshop_id: int, counts: tuple[HeadCount, ...]) -> None:
    await Attendance.delete().where(Attendance.workshop == workshop_id)
    kept = rules.kept_counts(counts)
    if kept:
        await Attendance.insert(*[Attendance(workshop=workshop_id, audience=c.audience,
                                             head_count=c.head_count, first_timers=c.first_timers)
                                  for c in kept])


def _who(viewer: Viewer, draft: WorkshopDraft) -> WorkshopDraft:
    """No animator named: the person filling the form animated it. Texts are cleaned of
    control characters here, before any rule or query sees them."""
    ids = tuple(dict.fromkeys(draft.animator_ids)) or (viewer.account_id,)
    return replace(draft, animator_ids=ids, machine_ids=tuple(dict.fromkeys(draft.machine_ids)),
                   title=rules.clean_line(draft.title), theme=rules.clean_line(draft.theme),
                   description=rules.clean_lines(draft.description),
                   notes=rules.clean_lines(draft.notes))


def _columns(draft: WorkshopDraft) -> dict:
    return {
        Workshop.title: draft.title.strip(), Workshop.theme: draft.theme.strip(),
        Workshop.description: draft.description.strip()[:rules.TEXT_LENGTH],
        Workshop.starts_at: draft.starts_at, Workshop.ends_at: draft.ends_at,
        Workshop.public: draft.public, Workshop.registration: draft.registration,
        Workshop.capacity: draft.capacity, Workshop.notes: draft.notes.strip()[:rules.TEXT_LENGTH],
    }


async def _insert(viewer: Viewer, site_id: int, draft: WorkshopDraft, status: WorkshopStatus,
                  logged_at: datetime | None, series_id: int | None = None) -> int:
    values = {column._meta.name: value for column, value in _columns(draft).items()}
    rows = await Workshop.insert(Workshop(site=site_id, status=status.value, logged_at=logged_at,
                                          created_by=viewer.account_id, series=series_id, **values)
                                 ).returning(Workshop.id)
    return rows[0]["id"]


async def plan_workshop(viewer: Viewer, site_slug: str, draft: WorkshopDraft,
                        now: datetime) -> dict[str, Any]:
    """Announce a workshop and hold its machines. A machine refused by the booking rules
    (taken, closed, in maintenance…) refuses the whole workshop: nothing is written."""
    site = await get_site(site_slug)
    require_staff(viewer, site["id"])
    draft = _who(viewer, replace(draft, attendance=()))
    check_draft(draft)
    if draft.starts_at <= now:
        raise Refused("workshop_in_past")
    names = await _check_team_and_machines(site["id"], draft.animator_ids, draft.machine_ids)
    async with database.write_transaction():
        workshop_id = await _insert(viewer, site["id"], draft, WorkshopStatus.planned, None)
        await _set_animators(workshop_id, draft.animator_ids)
        await _hold_machines(viewer, workshop_id, draft.title, names, draft.machine_ids,
                             draft.starts_at, draft.ends_at, now)
    return await get_workshop(viewer, workshop_id)


async def log_workshop(viewer: Viewer, site_slug: str, draft: WorkshopDraft,
                       now: datetime) -> dict[str, Any]:
    """Note a workshop that took place: who came, the machines used, notes. It was never
    announced, so it stays off the public calendar."""
    site = await get_site(site_slug)
    require_staff(viewer, site["id"])
    draft = _who(viewer, replace(draft, public=False, registration=False, capacity=None))
    check_draft(draft)
    if draft.starts_at > now:
        raise Refused("workshop_in_future")
    await _check_team_and_machines(site["id"], draft.animator_ids, draft.machine_ids)
    async with database.write_transaction():
        workshop_id = await _insert(viewer, site["id"], draft, WorkshopStatus.done, now)
        await _set_animators(workshop_id, draft.animator_ids)
        await _link_machines(workshop_id, draft.machine_ids)
        await _set_attendance(workshop_id, draft.attendance)
    return await get_workshop(viewer, workshop_id)


def draft_of(row: dict[str, Any]) -> WorkshopDraft:
    """The workshop as it is, to apply changes to."""
    return WorkshopDraft(
        title=row["title"], starts_at=row["starts_at"], ends_at=row["ends_at"],
        theme=row["theme"], description=row["description"], public=row["public"],
        registration=row["registration"], capacity=row["capacity"], notes=row["notes"],
        animator_ids=tuple(a["account"] for a in row.get("animators", [])),
        machine_ids=tuple(m["machine"] for m in row.get("machines", [])),
    )


async def update_workshop(viewer: Viewer, workshop_id: int, changes: dict[str, Any],
                          now: datetime) -> dict[str, Any]:
    """Change a workshop. New times or machines move its holds, all or nothing; a larger
    capacity gives places to the waiting list, oldest first."""
    row = await _details(await row_for_staff(viewer, workshop_id))
    if row["status"] == WorkshopStatus.cancelled.value:
        raise Refused("workshop_not_editable")
    before = draft_of(row)
    known = {k: v for k, v in changes.items() if k in WorkshopDraft.__dataclass_fields__}
    draft = _who(viewer, replace(before, **known))
    check_draft(draft)
    if draft.registration:
        raise_if(rules.check_capacity_change(draft.capacity, row["registered"]))
    moved = (draft.starts_at, draft.ends_at) != (before.starts_at, before.ends_at)
    planned = row["status"] == WorkshopStatus.planned.value
    if planned and moved and draft.starts_at <= now:
        raise Refused("workshop_in_past")
    machines_changed = set(draft.machine_ids) != set(before.machine_ids)
    names = await _check_team_and_machines(row["site"], draft.animator_ids, draft.machine_ids)
    async with database.write_transaction():
        await lock_seats(workshop_id)
        await Workshop.update(_columns(draft)).where(Workshop.id == workshop_id)
        if set(draft.animator_ids) != set(before.animator_ids):
            await _set_animators(workshop_id, draft.animator_ids)
        if planned and draft.starts_at > now and (moved or machines_changed):
            await _release_holds(viewer, workshop_id, now)
            await WorkshopMachine.delete().where(WorkshopMachine.workshop == workshop_id)
            await _hold_machines(viewer, workshop_id, draft.title, names, draft.machine_ids,
                                 draft.starts_at, draft.ends_at, now)
        elif machines_changed:
            await _replace_links(viewer, workshop_id, before.machine_ids, draft.machine_ids, now)
        if draft.registration:
            await move_up(workshop_id, draft.capacity)
    return await get_workshop(viewer, workshop_id)


async def _replace_links(viewer: Viewer, workshop_id: int, before: tuple[int, ...],
                         after: tuple[int, ...], now: datetime) -> None:
    """Machines used by a workshop under way or over: no new hold; a machine taken off the
    list gives its hold back."""
    gone = [m for m in before if m not in after]
    if gone:
        await _release_holds(viewer, workshop_id, now, gone)
        await WorkshopMachine.delete().where((WorkshopMachine.workshop == workshop_id)
                                             & WorkshopMachine.machine.is_in(gone))
    await _link_machines(workshop_id, tuple(m for m in after if m not in before))


async def cancel_workshop(viewer: Viewer, workshop_id: int, now: datetime) -> dict[str, Any]:
    """Call a workshop off: its machines are free again and its registrations cancelled."""
    row = await row_for_staff(viewer, workshop_id)
    if row["status"] == WorkshopStatus.cancelled.value:
        raise Refused("already_cancelled")
    if row["status"] == WorkshopStatus.done.value:
        raise Refused("workshop_not_cancellable")
    async with database.write_transaction():
        await lock_seats(workshop_id)
        await Workshop.update({Workshop.status: WorkshopStatus.cancelled.value}).where(
            Workshop.id == workshop_id)
        await _release_holds(viewer, workshop_id, now)
        told = await Registration.update({Registration.status: RegistrationStatus.cancelled.value,
                                          Registration.cancelled_at: now}).where(
            (Registration.workshop == workshop_id) & Registration.status.is_in(list(ACTIVE))
        ).returning(Registration.account)
        from fabbooking.notifications import events

        await events.workshop_news("workshop_cancelled", row, [r["account"] for r in told if r["account"]])
    return await get_workshop(viewer, workshop_id)


async def log_attendance(viewer: Viewer, workshop_id: int, counts: tuple[HeadCount, ...],
                         now: datetime, notes: str | None = None,
                         machine_ids: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Note who came to a workshop that has begun (again, to correct it): it is then done."""
    row = await _details(await row_for_staff(viewer, workshop_id))
    if row["status"] == WorkshopStatus.cancelled.value:
        raise Refused("workshop_not_editable")
    if row["starts_at"] > now:
        raise Refused("workshop_in_future")
    raise_if(rules.check_attendance(counts))
    if machine_ids is not None:
        raise_if(rules.check_team_size((), machine_ids))
    before = tuple(m["machine"] for m in row["machines"])
    after = tuple(dict.fromkeys(machine_ids)) if machine_ids is not None else before
    await _check_team_and_machines(row["site"], (), after)
    values: dict = {Workshop.status: WorkshopStatus.done.value, Workshop.logged_at: now}
    if notes is not None:
        values[Workshop.notes] = rules.clean_lines(notes).strip()[:rules.TEXT_LENGTH]
    async with database.write_transaction():
        await Workshop.update(values).where(Workshop.id == workshop_id)
        await _set_attendance(workshop_id, counts)
        if set(after) != set(before):
            await _replace_links(viewer, workshop_id, before, after, now)
    return await get_workshop(viewer, workshop_id)


