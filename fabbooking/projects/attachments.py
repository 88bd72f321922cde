"""The machine time of a project: bookings and usage sessions attached to it, and what
they add up to.

- A booking can be attached by the maker who holds it (when they edit the project), or by
  an animator of the booking's site on their behalf; either way the booking's maker must
  be an owner or collaborator of the project. Cancelled and workshop bookings are refused.
- Every usage session of an attached booking counts by itself.
- A session with no booking (walk-in use) has no maker on record: only the staff of the
  machine's site (who saw who used it) attach it to a project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.ids import is_id
from fabbooking.projects.services import access, editable
from fabbooking.projects.tables import ProjectBooking, ProjectMember, ProjectUsage
from fabbooking.usage.tables import UsageSession

MAX_LISTED = 100


def _booking_not_found(booking_id: int) -> Refused:
    return Refused.not_found(f"la réservation n° {booking_id}", f"booking #{booking_id}")


async def attach_booking(viewer: Viewer, slug: str, booking_id: int) -> None:
    found = await access(viewer, slug)
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    booking = await Booking.select(
        Booking.id, Booking.maker, Booking.status, Booking.purpose,
        Booking.machine.site.as_alias("site_id"),
    ).where(Booking.id == booking_id).first() if is_id(booking_id) else None
    if booking is None:
        raise _booking_not_found(booking_id)
    by_staff = viewer.is_staff_of(booking["site_id"])
    if not by_staff and not (found.can_edit and booking["maker"] == viewer.account_id):
        if booking["maker"] != viewer.account_id:
            raise _booking_not_found(booking_id)
        raise Refused("project_members_only", status=403)
    if not await ProjectMember.exists().where(
            (ProjectMember.project == found.id) & (ProjectMember.account == booking["maker"])):
        raise Refused("booking_maker_not_member")
    if booking["status"] == BookingStatus.cancelled.value or booking["purpose"] != BookingPurpose.maker.value:
        raise Refused("booking_not_attachable")
    await _link_once(ProjectBooking, ProjectBooking.booking, booking_id, found.id,
                     "booking_already_attached")


async def _link_once(link: type, column, target_id: int, project_id: int, taken: str) -> None:
    """Count ``target_id`` (a booking or a usage session) for the project: nothing to do if
    it already does, refused with ``taken`` if it counts for another project (checked, and
    kept so by the unique column when two requests race)."""
    current = await link.select(link.project).where(column == target_id).first()
    if current:
        if current["project"] == project_id:
            return
        raise Refused(taken, status=409)
    try:
        await link.insert(link(project=project_id, **{column._meta.name: target_id}))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Refused(taken, status=409) from None
        raise


async def detach_booking(viewer: Viewer, slug: str, booking_id: int) -> None:
    found = await access(viewer, slug)
    if not is_id(booking_id):
        raise _booking_not_found(booking_id)
    booking = await Booking.select(Booking.machine.site.as_alias("site_id")).where(
        Booking.id == booking_id).first()
    if not found.can_edit and not (booking and viewer.is_staff_of(booking["site_id"])):
        raise Refused("project_members_only", status=403)
    await ProjectBooking.delete().where(
        (ProjectBooking.project == found.id) & (ProjectBooking.booking == booking_id))


async def attach_usage(viewer: Viewer, slug: str, session_id: int) -> None:
    found = await access(viewer, slug)
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    session = await UsageSession.select(
        UsageSession.id, UsageSession.booking, UsageSession.machine.site.as_alias("site_id"),
    ).where(UsageSession.id == session_id).first() if is_id(session_id) else None
    if session is None or not viewer.is_staff_of(session["site_id"]):
        # Sessions are the staff's records; others do not learn whether one exists.
        raise Refused.not_found(f"la session n° {session_id}", f"session #{session_id}")
    if session["booking"] and await ProjectBooking.exists().where(
            ProjectBooking.booking == session["booking"]):
        raise Refused("usage_already_counted", status=409)
    await _link_once(ProjectUsage, ProjectUsage.usage_session, session_id, found.id,
                     "usage_already_attached")


async def detach_usage(viewer: Viewer, slug: str, session_id: int) -> None:
    found = await access(viewer, slug)
    if not is_id(session_id):
        raise Refused.not_found(f"la session n° {session_id}", f"session #{session_id}")
    session = await UsageSession.select(UsageSession.machine.site.as_alias("site_id")).where(
        UsageSession.id == session_id).first()
    if not found.can_edit and not (session and viewer.is_staff_of(session["site_id"])):
        raise Refused("project_members_only", status=403)
    await ProjectUsage.delete().where(
        (ProjectUsage.project == found.id) & (ProjectUsage.usage_session == session_id))


async def attachable_bookings(viewer: Viewer, slug: str, since: datetime) -> list[dict[str, Any]]:
    """My own maker bookings (not cancelled) from ``since`` on, and any already counted for
    this project, newest first, with whether each counts here or elsewhere: the list to
    tick on the page."""
    found = await editable(viewer, slug)
    here = ProjectBooking.select(ProjectBooking.booking).where(ProjectBooking.project == found.id)
    rows = await Booking.select(
        Booking.id, Booking.start_at, Booking.end_at, Booking.status,
        Booking.machine.name.as_alias("machine_name"), Booking.machine.site.name.as_alias("site_name"),
        Booking.machine.site.timezone.as_alias("timezone"),
    ).where((Booking.maker == viewer.account_id) & (Booking.status != BookingStatus.cancelled.value)
            & (Booking.purpose == BookingPurpose.maker.value)
            & ((Booking.start_at >= since) | Booking.id.is_in(here))
            ).order_by(Booking.start_at, ascending=False).limit(MAX_LISTED)
    attached = {r["booking"]: r["project"] for r in await ProjectBooking.select(
        ProjectBooking.booking, ProjectBooking.project).where(
        ProjectBooking.booking.is_in([r["id"] for r in rows] or [0]))}
    for row in rows:
        row["here"] = attached.get(row["id"]) == found.id
        row["elsewhere"] = row["id"] in attached and not row["here"]
    return rows


async def project_figures(project_id: int) -> dict[str, Any]:
    """What the project took: machine time actually used (sum of its sessions' durations)
    and time booked (attached bookings not cancelled), jobs, energy, material, sites."""
    bookings = await Booking.select(
        Booking.id, Booking.start_at, Booking.end_at, Booking.status,
        Booking.machine.site.name.as_alias("site_name"), Booking.machine.site.slug.as_alias("site_slug"),
    ).where(Booking.id.is_in(ProjectBooking.select(ProjectBooking.booking).where(
        ProjectBooking.project == project_id)))
    counted = [b for b in bookings if b["status"] != BookingStatus.cancelled.value]
    booking_ids = [b["id"] for b in bookings]
    where = UsageSession.id.is_in(ProjectUsage.select(ProjectUsage.usage_session).where(
        ProjectUsage.project == project_id))
    if booking_ids:
        where |= UsageSession.booking.is_in(booking_ids)
    sessions = await UsageSession.select(
        UsageSession.id, UsageSession.duration_s, UsageSession.started_at, UsageSession.ended_at,
        UsageSession.energy_wh, UsageSession.material_grams, UsageSession.material_length_mm,
        UsageSession.machine.site.name.as_alias("site_name"),
        UsageSession.machine.site.slug.as_alias("site_slug"),
    ).where(where)
    used_s = sum(_duration(s) for s in sessions)
    sites = {b["site_slug"]: b["site_name"] for b in counted}
    sites.update({s["site_slug"]: s["site_name"] for s in sessions})
    return {
        "booked_minutes": round(sum((b["end_at"] - b["start_at"]).total_seconds() for b in counted) / 60),
        "used_minutes": round(used_s / 60),
        "bookings": len(counted),
        "jobs": len(sessions),
        "energy_wh": round(sum(s["energy_wh"] or 0 for s in sessions), 1),
        "material_grams": round(sum(s["material_grams"] or 0 for s in sessions), 1),
        "material_length_m": round(sum(s["material_length_mm"] or 0 for s in sessions) / 1000, 2),
        "sites": [{"slug": slug, "name": sites[slug]} for slug in sorted(sites)],
    }


def _duration(session: dict[str, Any]) -> float:
    if session["duration_s"] is not None:
        return float(session["duration_s"])
    start, end = session["started_at"], session["ended_at"]
    if isinstance(start, datetime) and isinstance(end, datetime) and end > start:
        return (end - start).total_seconds()
    return 0.0


async def projects_to_book_for(viewer: Viewer) -> list[dict[str, Any]]:
    """The projects a maker may count a new booking for: theirs, not finished or dropped."""
    if not viewer.is_authenticated:
        return []
    from fabbooking.projects.tables import Project, ProjectStatus

    return await Project.select(Project.slug, Project.title).where(
        Project.id.is_in(ProjectMember.select(ProjectMember.project).where(
            ProjectMember.account == viewer.account_id))
        & Project.status.is_in([ProjectStatus.idea.value, ProjectStatus.in_progress.value])
    ).order_by(Project.updated_at, ascending=False).limit(50)


async def attach_new_booking(viewer: Viewer, slug: str, booking_id: int) -> bool:
    """Count a booking just made for the chosen project; the booking stands either way."""
    try:
        await attach_booking(viewer, slug, booking_id)
    except Refused:
        return False
    return True


async def walk_ins_to_attach(viewer: Viewer, slug: str, since: datetime) -> list[dict[str, Any]]:
    """Uses without a booking since ``since`` on machines of the sites the viewer runs, not
    counted for another project, newest first, with whether each counts here: the list the
    staff tick for a project."""
    found = await access(viewer, slug)
    if not viewer.is_staff_anywhere:
        raise Refused("not_staff_of_site")
    where = UsageSession.booking.is_null() & (UsageSession.started_at >= since)
    if not viewer.is_admin:
        where &= UsageSession.machine.site.is_in(list(viewer.staff_site_ids))
    rows = await UsageSession.select(
        UsageSession.id, UsageSession.started_at, UsageSession.duration_s, UsageSession.file_name,
        UsageSession.machine.name.as_alias("machine_name"), UsageSession.machine.site.name.as_alias("site_name"),
        UsageSession.machine.site.timezone.as_alias("timezone"),
    ).where(where).order_by(UsageSession.started_at, ascending=False).limit(100)
    attached = {r["usage_session"]: r["project"] for r in await ProjectUsage.select(
        ProjectUsage.usage_session, ProjectUsage.project).where(
        ProjectUsage.usage_session.is_in([r["id"] for r in rows] or [0]))}
    for row in rows:
        row["here"] = attached.get(row["id"]) == found.id
    return [r for r in rows if r["id"] not in attached or r["here"]]
