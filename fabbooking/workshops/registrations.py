"""Places at a workshop: a signed-in person registers themselves, the desk registers a
name; a place while any is left, else the waiting list, which moves up (oldest first) when a
place frees. Every change re-counts inside a write transaction, one workshop at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused
from fabbooking.ids import is_id
from fabbooking.network.services import require_staff
from fabbooking.workshops import rules
from fabbooking.workshops.access import (
    raise_if,
    row_for_staff,
    visible_row,
    workshop_row,
)
from fabbooking.workshops.tables import Registration, RegistrationStatus, Workshop

MAX_LISTED = 500

ACTIVE = (RegistrationStatus.registered.value, RegistrationStatus.waiting.value)


REGISTRATION_COLUMNS = (
    Registration.all_columns(),
    Registration.account.display_name.as_alias("account_name"),
)



def registration_not_found(registration_id: int) -> Refused:
    return Refused.not_found(f"l'inscription n° {registration_id}",
                             f"registration #{registration_id}")


async def registration_counts(workshop_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {"registered": 0, "waiting": 0} for i in workshop_ids}
    if not workshop_ids:
        return counts
    rows = await Registration.select(Registration.workshop, Registration.status, Count(alias="n")).where(
        Registration.workshop.is_in(workshop_ids) & Registration.status.is_in(list(ACTIVE))
    ).group_by(Registration.workshop, Registration.status)
    for row in rows:
        counts[row["workshop"]][row["status"]] = row["n"]
    return counts


async def lock_seats(workshop_id: int) -> None:
    """Inside a write transaction: one registration change at a time per workshop (SQLite's
    write transaction already holds the whole database)."""
    if database.is_postgres():
        await Workshop.raw("SELECT id FROM workshop WHERE id = {} FOR UPDATE", workshop_id)


async def seats(workshop_id: int) -> list[rules.Seat]:
    rows = await Registration.select(Registration.id, Registration.status,
                                     Registration.created_at).where(
        (Registration.workshop == workshop_id) & Registration.status.is_in(list(ACTIVE)))
    return [rules.Seat(r["id"], r["status"], r["created_at"]) for r in rows]


async def move_up(workshop_id: int, capacity: int | None) -> list[int]:
    """Inside the write transaction: the oldest waiting people take the free places, and are
    told so by e-mail."""
    ids = rules.moving_up(capacity, await seats(workshop_id))
    if ids:
        promoted = await Registration.update({Registration.status: RegistrationStatus.registered.value}
                                             ).where(Registration.id.is_in(ids)).returning(Registration.account)
        people = [r["account"] for r in promoted if r["account"] is not None]
        if people:
            from fabbooking.notifications import events

            await events.workshop_news("workshop_promoted", await workshop_row(workshop_id), people)
    return ids


async def registration_row(registration_id: int) -> dict[str, Any] | None:
    if not is_id(registration_id):
        return None
    return await Registration.select(*REGISTRATION_COLUMNS).where(
        Registration.id == registration_id).first()


async def register(viewer: Viewer, workshop_id: int, now: datetime,
                   name: str | None = None) -> dict[str, Any]:
    """Register the viewer (``name`` None), or, at the desk, a person by name only. A place
    if one is left, else the waiting list: counted again inside the write transaction, so
    two people asking for the last place at once never both get it. ``now`` decides whether
    registration is still open; the registration's time is taken once the workshop is
    locked, so places and the waiting list follow the order in which requests got there."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    row = await visible_row(viewer, workshop_id)
    if name is not None:
        require_staff(viewer, row["site"])
        name = rules.clean_line(name)
        raise_if(rules.check_name(name))
    raise_if(rules.check_open_for_registration(row["status"], row["registration"],
                                             row["starts_at"], now))
    async with database.write_transaction():
        await lock_seats(workshop_id)
        if name is None and await Registration.exists().where(
            (Registration.workshop == workshop_id) & (Registration.account == viewer.account_id)
            & Registration.status.is_in(list(ACTIVE))
        ):
            raise Refused("already_registered", status=409)
        registered = await Registration.count().where(
            (Registration.workshop == workshop_id)
            & (Registration.status == RegistrationStatus.registered.value))
        status = rules.status_for_newcomer(row["capacity"], registered)
        # stamped under the lock (a request may wait for it); ids, given under it too, break ties
        rows = await Registration.insert(Registration(
            workshop=workshop_id, account=viewer.account_id if name is None else None,
            name=(name or "").strip(), status=status, created_at=datetime.now(UTC),
        )).returning(Registration.id)
        if name is None:
            from fabbooking.notifications import events

            await events.workshop_news(
                "workshop_registered" if status == RegistrationStatus.registered.value else "workshop_waitlisted",
                row, [viewer.account_id])
    return await registration_row(rows[0]["id"])


async def cancel_registration(viewer: Viewer, workshop_id: int, registration_id: int,
                              now: datetime) -> dict[str, Any]:
    """The person cancels their own place until the start, the site's team at any time; the
    oldest waiting person moves up."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    found = await registration_row(registration_id)
    if found is None or found["workshop"] != workshop_id:
        raise registration_not_found(registration_id)
    row = await workshop_row(workshop_id)
    by_staff = viewer.is_staff_of(row["site"])
    if not by_staff and found["account"] != viewer.account_id:
        raise registration_not_found(registration_id)
    if not by_staff and row["starts_at"] <= now:
        raise Refused("registration_closed")
    async with database.write_transaction():
        await lock_seats(workshop_id)
        current = await registration_row(registration_id)
        if current["status"] == RegistrationStatus.cancelled.value:
            raise Refused("registration_already_cancelled", status=409)
        await Registration.update({Registration.status: RegistrationStatus.cancelled.value,
                                   Registration.cancelled_at: now}).where(
            Registration.id == registration_id)
        if current["status"] == RegistrationStatus.registered.value and row["registration"]:
            await move_up(workshop_id, row["capacity"])
    return await registration_row(registration_id)


def person_name(registration: dict[str, Any]) -> str:
    return registration["account_name"] or registration["name"]


async def list_registrations(viewer: Viewer, workshop_id: int) -> list[dict[str, Any]]:
    """Everybody who asked for a place: the site's team only (names are personal)."""
    await row_for_staff(viewer, workshop_id)
    rows = await Registration.select(*REGISTRATION_COLUMNS).where(
        Registration.workshop == workshop_id).order_by(Registration.created_at).order_by(
        Registration.id)
    order = {"registered": 0, "waiting": 1, "cancelled": 2}
    return sorted(rows, key=lambda r: order.get(r["status"], 3))


async def my_registrations(viewer: Viewer) -> list[dict[str, Any]]:
    """The viewer's own registrations, with their workshops, soonest first."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    return await Registration.select(
        *REGISTRATION_COLUMNS,
        Registration.workshop.title.as_alias("workshop_title"),
        Registration.workshop.starts_at.as_alias("starts_at"),
        Registration.workshop.ends_at.as_alias("ends_at"),
        Registration.workshop.status.as_alias("workshop_status"),
        Registration.workshop.site.name.as_alias("site_name"),
        Registration.workshop.site.timezone.as_alias("site_timezone"),
    ).where(Registration.account == viewer.account_id).order_by(
        Registration.workshop.starts_at).limit(MAX_LISTED)


async def my_active_registration(viewer: Viewer, workshop_id: int) -> dict[str, Any] | None:
    if not viewer.is_authenticated:
        return None
    return await Registration.select(*REGISTRATION_COLUMNS).where(
        (Registration.workshop == workshop_id) & (Registration.account == viewer.account_id)
        & Registration.status.is_in(list(ACTIVE))).first()
