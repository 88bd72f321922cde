"""The rows behind one month's figures, read with one query per kind of row (no N+1).

Each query reads only the columns the figures need — never a name, a note or a title —
for every site at once, between two UTC moments that cover the month in every site's
timezone. The same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from fabbooking.bookings.tables import Booking
from fabbooking.figures.monthly import (
    BookingRow,
    ProjectRow,
    SessionRow,
    SiteRow,
    WorkshopRow,
)
from fabbooking.network.tables import Site
from fabbooking.projects.tables import Project
from fabbooking.usage.tables import UsageSession
from fabbooking.workshops.tables import (
    Attendance,
    Registration,
    RegistrationStatus,
    Workshop,
    WorkshopStatus,
)

# a session with a duration but no recorded end (older rows) is looked for this far back
LOOK_BACK = timedelta(days=1)


async def sites() -> list[SiteRow]:
    rows = await Site.select(Site.id, Site.slug, Site.name, Site.timezone).order_by(Site.name)
    return [SiteRow(r["id"], r["slug"], r["name"], r["timezone"] or "Europe/Paris") for r in rows]


async def bookings(lower: datetime, upper: datetime) -> list[BookingRow]:
    """Bookings overlapping [lower, upper)."""
    rows = await Booking.select(
        Booking.machine.site.as_alias("site_id"), Booking.machine.kind.as_alias("kind"),
        Booking.maker, Booking.start_at, Booking.end_at, Booking.status, Booking.purpose,
    ).where((Booking.start_at < upper) & (Booking.end_at > lower))
    return [BookingRow(r["site_id"], r["kind"], r["maker"], r["start_at"], r["end_at"],
                       r["status"], r["purpose"]) for r in rows]


async def sessions(lower: datetime, upper: datetime) -> list[SessionRow]:
    """Usage sessions that started in [lower, upper) or ran into it."""
    rows = await UsageSession.select(
        UsageSession.machine.site.as_alias("site_id"), UsageSession.machine.kind.as_alias("kind"),
        UsageSession.started_at, UsageSession.ended_at, UsageSession.duration_s,
        UsageSession.walk_in,
    ).where(
        UsageSession.started_at.is_not_null() & (UsageSession.started_at < upper)
        & ((UsageSession.started_at >= lower) | (UsageSession.ended_at > lower)
           | (UsageSession.ended_at.is_null() & (UsageSession.started_at >= lower - LOOK_BACK)))
    )
    return [SessionRow(r["site_id"], r["kind"], r["started_at"], r["duration_s"],
                       bool(r["walk_in"]), r["ended_at"]) for r in rows]


def _in_window(workshop, lower: datetime, upper: datetime):
    """Rows of workshops starting in [lower, upper), by a join rather than a list of ids."""
    return (workshop.starts_at >= lower) & (workshop.starts_at < upper)


async def workshops(lower: datetime, upper: datetime) -> list[WorkshopRow]:
    """Workshops starting in [lower, upper), not cancelled, with their attendance and the
    number of places held (three queries, whatever the number of workshops)."""
    rows = await Workshop.select(Workshop.id, Workshop.site, Workshop.starts_at, Workshop.status).where(
        (Workshop.starts_at >= lower) & (Workshop.starts_at < upper)
        & (Workshop.status != WorkshopStatus.cancelled.value)
    )
    if not rows:
        return []
    attendance: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for a in await Attendance.select(Attendance.workshop, Attendance.audience, Attendance.head_count,
                                     Attendance.first_timers).where(_in_window(Attendance.workshop, lower, upper)):
        attendance[a["workshop"]].append((a["audience"], a["head_count"] or 0, a["first_timers"] or 0))
    held: dict[int, int] = defaultdict(int)
    for r in await Registration.select(Registration.workshop).where(
        _in_window(Registration.workshop, lower, upper) & (Registration.status == RegistrationStatus.registered.value)
    ):
        held[r["workshop"]] += 1
    return [WorkshopRow(r["site"], r["starts_at"], r["status"], tuple(attendance[r["id"]]), held[r["id"]])
            for r in rows]


async def projects(lower: datetime, upper: datetime) -> list[ProjectRow]:
    """Projects created or finished in [lower, upper)."""
    rows = await Project.select(Project.site, Project.created_at, Project.done_at).where(
        ((Project.created_at >= lower) & (Project.created_at < upper))
        | ((Project.done_at >= lower) & (Project.done_at < upper))
    )
    return [ProjectRow(r["site"], r["created_at"], r["done_at"]) for r in rows]
