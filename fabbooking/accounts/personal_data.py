"""Everything the network keeps about a person, as one JSON document they can download
(the GDPR's right of access and portability): profile, bookings, trainings, workshop
registrations, projects and the machine use recorded during their bookings.

A fixed number of statements whatever the amount of data. Secrets (password hash, token
digests, reset links, calendar feed token) are never included; the API tokens are listed by
label and dates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fabbooking.accounts.tables import Account, ApiToken
from fabbooking.bookings.tables import Booking, CalendarFeed
from fabbooking.network.tables import Staff
from fabbooking.projects.tables import MediaFile, ProjectMember, ProjectStep, ProjectTag
from fabbooking.training.tables import Qualification
from fabbooking.usage.tables import UsageSession
from fabbooking.workshops.tables import Registration

FORMAT = "fabbooking-personal-data/1"


async def personal_data(account_id: int, now: datetime) -> dict[str, Any]:
    """The document for ``account_id`` (the caller checked it is the viewer's own)."""
    profile = await Account.select(
        Account.username, Account.display_name, Account.email, Account.role, Account.language,
        Account.created_at, Account.last_login).where(Account.id == account_id).first()
    if profile is None:
        return {}
    sites = await Staff.select(Staff.site.slug.as_alias("site")).where(Staff.account == account_id)
    bookings = await Booking.select(
        Booking.id, Booking.machine.name.as_alias("machine"), Booking.machine.site.slug.as_alias("site"),
        Booking.start_at, Booking.end_at, Booking.status, Booking.purpose, Booking.note,
        Booking.created_at, Booking.cancelled_at,
    ).where(Booking.maker == account_id).order_by(Booking.start_at)
    trainings = await Qualification.select(
        Qualification.training.name.as_alias("training"), Qualification.granted_on,
        Qualification.expires_on, Qualification.granted_at_site,
    ).where(Qualification.account == account_id).order_by(Qualification.granted_on)
    registrations = await Registration.select(
        Registration.workshop.title.as_alias("workshop"), Registration.workshop.starts_at.as_alias("starts_at"),
        Registration.workshop.site.slug.as_alias("site"), Registration.status, Registration.created_at,
        Registration.cancelled_at,
    ).where(Registration.account == account_id).order_by(Registration.created_at)
    usage = await UsageSession.select(
        UsageSession.booking.id.as_alias("booking"), UsageSession.machine.name.as_alias("machine"),
        UsageSession.started_at, UsageSession.ended_at, UsageSession.duration_s, UsageSession.outcome,
        UsageSession.energy_wh, UsageSession.material_kind, UsageSession.material_grams, UsageSession.file_name,
    ).where(UsageSession.booking.maker == account_id).order_by(UsageSession.started_at)
    return {
        "format": FORMAT,
        "exported_at": now.isoformat(),
        "profile": {**profile, "staff_of": [s["site"] for s in sites]},
        "bookings": bookings,
        "trainings": trainings,
        "workshop_registrations": registrations,
        "projects": await _projects(account_id),
        "usage_sessions": usage,
        "api_tokens": await ApiToken.select(ApiToken.label, ApiToken.created_at, ApiToken.expires_at,
                                            ApiToken.last_used_at).where(ApiToken.account == account_id),
        "calendar_feed": await CalendarFeed.exists().where(CalendarFeed.account == account_id),
    }


async def _projects(account_id: int) -> list[dict[str, Any]]:
    """The projects they own or work on, with their steps, tags and files' names."""
    projects = await ProjectMember.select(
        ProjectMember.role, ProjectMember.project.id.as_alias("id"), ProjectMember.project.slug.as_alias("slug"),
        ProjectMember.project.title.as_alias("title"), ProjectMember.project.summary.as_alias("summary"),
        ProjectMember.project.body.as_alias("body"), ProjectMember.project.status.as_alias("status"),
        ProjectMember.project.licence.as_alias("licence"), ProjectMember.project.visibility.as_alias("visibility"),
        ProjectMember.project.created_at.as_alias("created_at"),
    ).where(ProjectMember.account == account_id).order_by(ProjectMember.id)
    ids = [p["id"] for p in projects]
    if not ids:
        return []
    steps = await ProjectStep.select(ProjectStep.project, ProjectStep.happened_on, ProjectStep.title,
                                     ProjectStep.body).where(ProjectStep.project.is_in(ids)).order_by(ProjectStep.id)
    tags = await ProjectTag.select(ProjectTag.project, ProjectTag.tag).where(ProjectTag.project.is_in(ids))
    files = await MediaFile.select(MediaFile.project, MediaFile.name, MediaFile.kind, MediaFile.created_at).where(
        MediaFile.project.is_in(ids)).order_by(MediaFile.id)
    for project in projects:
        pid = project["id"]
        project["steps"] = [{k: v for k, v in s.items() if k != "project"} for s in steps if s["project"] == pid]
        project["tags"] = [t["tag"] for t in tags if t["project"] == pid]
        project["files"] = [{k: v for k, v in f.items() if k != "project"} for f in files if f["project"] == pid]
    return projects

