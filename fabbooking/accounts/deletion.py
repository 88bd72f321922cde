"""A person deletes their own account (the GDPR's right to erasure), without taking their
use out of the network's figures.

What stays is an « ancien membre » placeholder: the account row keeps its id and nothing
else of the person (no username they chose, e-mail, name, password, language, dates), so
their past bookings, machine use and workshop places still count in the figures — each
deleted person stays one distinct person there — but name nobody. Booking notes are
emptied. What is removed: sessions, API tokens, reset links, the calendar feed, trainings,
the sites they worked at, their name on workshops they led, failed logins. Bookings and
workshop places still to come are cancelled (a workshop's waiting list moves up).

Projects: where someone else is an owner, they simply leave it. Where they were the only
owner, collaborators become its owners; with nobody else, a public project under an open
licence stays a digital commons, credited to « ancien membre »; any other is deleted with
its photos and files.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fabbooking.accounts.services import confirm_password
from fabbooking.accounts.tables import (
    Account,
    ApiToken,
    BrowserSession,
    Language,
    LoginFailure,
    PasswordReset,
    Role,
)
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused

FORMER_MEMBER = "Ancien membre"
PLACEHOLDER_PREFIX = "ancien membre "


def placeholder_username(account_id: int) -> str:
    """No one can sign up under it: a space is not allowed in usernames."""
    return f"{PLACEHOLDER_PREFIX}{account_id}"


async def delete_own_account(viewer: Viewer, password: str, client: str, now: datetime | None = None) -> None:
    """Delete the viewer's account once their password is confirmed (wrong guesses are
    slowed down as logins are). The network's last admin cannot leave."""
    if viewer.account_id is None:
        raise Refused("not_authenticated")
    account_id = viewer.account_id
    row = await Account.select(Account.username, Account.password).where(Account.id == account_id).first()
    if row is None:
        raise Refused("not_authenticated")
    await confirm_password(row, password, client, "wrong_password")
    moment = now or datetime.now(UTC)
    await _leave_workshops(viewer, moment)
    files = await _erase(account_id, row["username"], moment)
    from fabbooking.projects import media

    media.remove(*files)


async def _leave_workshops(viewer: Viewer, now: datetime) -> None:
    """Places at workshops still to come are given back, so the waiting list moves up."""
    from fabbooking.workshops.registrations import cancel_registration
    from fabbooking.workshops.tables import Registration, RegistrationStatus

    upcoming = await Registration.select(Registration.id, Registration.workshop).where(
        (Registration.account == viewer.account_id)
        & Registration.status.is_in([RegistrationStatus.registered.value, RegistrationStatus.waiting.value])
        & (Registration.workshop.starts_at > now))
    for registration in upcoming:
        await cancel_registration(viewer, registration["workshop"], registration["id"], now)


async def _erase(account_id: int, username: str, now: datetime) -> list[str]:
    """Everything else in one write transaction; the stored names of the project files to
    remove from disk once it is committed."""
    from fabbooking import database
    from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus, CalendarFeed
    from fabbooking.idempotency.tables import FirstAnswer
    from fabbooking.network.tables import Staff
    from fabbooking.training.tables import Qualification
    from fabbooking.workshops.tables import WorkshopAnimator

    async with database.write_transaction():
        await _keep_an_admin(account_id)
        await Booking.update({Booking.status: BookingStatus.cancelled.value, Booking.cancelled_at: now,
                              Booking.cancelled_by: account_id}).where(
            (Booking.maker == account_id) & (Booking.status == BookingStatus.confirmed.value)
            & (Booking.purpose == BookingPurpose.maker.value) & (Booking.start_at > now))
        await Booking.update({Booking.note: ""}).where((Booking.maker == account_id) & (Booking.note != ""))
        files = await _leave_projects(account_id)
        await BrowserSession.delete().where(BrowserSession.user_id == account_id)
        await ApiToken.delete().where(ApiToken.account == account_id)
        await PasswordReset.delete().where(PasswordReset.account == account_id)
        await CalendarFeed.delete().where(CalendarFeed.account == account_id)
        await FirstAnswer.delete().where(FirstAnswer.account == account_id)
        await Qualification.delete().where(Qualification.account == account_id)
        await Staff.delete().where(Staff.account == account_id)
        await WorkshopAnimator.delete().where(WorkshopAnimator.account == account_id)
        await LoginFailure.delete().where(LoginFailure.username == username)
        placeholder = placeholder_username(account_id)
        await Account.update({
            Account.username: placeholder, Account.username_skeleton: placeholder, Account.password: "",
            Account.email: None, Account.display_name: FORMER_MEMBER, Account.first_name: "",
            Account.last_name: "", Account.role: Role.maker.value, Account.language: Language.fr.value,
            Account.active: False, Account.admin: False, Account.superuser: False, Account.last_login: None,
            Account.created_by: None, Account.created_at: now,
        }).where(Account.id == account_id)
    return files


async def _keep_an_admin(account_id: int) -> None:
    """Refuse to delete the last active admin (locked as ``services.set_role`` does)."""
    from fabbooking import database

    if database.is_postgres():
        await Account.raw("SELECT id FROM account WHERE role = 'admin' FOR UPDATE")
    row = await Account.select(Account.role).where(Account.id == account_id).first()
    if row is None or row["role"] != Role.admin.value:
        return
    others = await Account.count().where(
        (Account.role == Role.admin.value) & (Account.active == True) & (Account.id != account_id))  # noqa: E712
    if not others:
        raise Refused("last_admin_cannot_leave")


async def _leave_projects(account_id: int) -> list[str]:
    """Leave every project (see the module's docstring); the files of deleted ones."""
    from fabbooking.projects.tables import (
        Licence,
        MediaFile,
        MemberRole,
        Project,
        ProjectMember,
        ProjectStep,
        Visibility,
    )

    mine = await ProjectMember.select(ProjectMember.project, ProjectMember.role,
                                      ProjectMember.project.visibility.as_alias("visibility"),
                                      ProjectMember.project.licence.as_alias("licence")).where(
        ProjectMember.account == account_id)
    ids = [m["project"] for m in mine]
    others = await ProjectMember.select(ProjectMember.project, ProjectMember.role).where(
        ProjectMember.project.is_in(ids) & (ProjectMember.account != account_id)) if ids else []
    doomed: list[int] = []
    promoted: list[int] = []
    for membership in mine:
        if membership["role"] != MemberRole.owner.value:
            continue
        roles = {o["role"] for o in others if o["project"] == membership["project"]}
        if MemberRole.owner.value in roles:
            continue
        if roles:
            promoted.append(membership["project"])
        elif membership["visibility"] != Visibility.public.value or membership["licence"] == Licence.all_rights_reserved.value:
            doomed.append(membership["project"])
    files: list[str] = []
    if doomed:
        for f in await MediaFile.select(MediaFile.stored, MediaFile.thumbnail).where(MediaFile.project.is_in(doomed)):
            files += [name for name in (f["stored"], f["thumbnail"]) if name]
        await Project.delete().where(Project.id.is_in(doomed))
    if promoted:
        await ProjectMember.update({ProjectMember.role: MemberRole.owner.value}).where(
            ProjectMember.project.is_in(promoted) & (ProjectMember.account != account_id))
    if ids:
        await ProjectMember.delete().where(ProjectMember.account == account_id)
    await Project.update({Project.created_by: None}).where(Project.created_by == account_id)
    await ProjectStep.update({ProjectStep.author: None}).where(ProjectStep.author == account_id)
    await MediaFile.update({MediaFile.uploaded_by: None}).where(MediaFile.uploaded_by == account_id)
    return files
