"""A person's GDPR rights on « Mon compte »: download everything kept about them (JSON), and
delete their account — their bookings and machine use stay in the figures without a name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.accounts.tables import Account, ApiToken, BrowserSession, PasswordReset
from fabbooking.bookings.tables import Booking, CalendarFeed
from fabbooking.figures import kept_months
from fabbooking.figures import services as figures
from fabbooking.figures.monthly import Month
from fabbooking.projects.tables import Project, ProjectMember
from fabbooking.training.tables import Qualification
from fabbooking.workshops.tables import Registration
from tests.conftest import PASSWORD
from tests.figures_support import NOW, SECRET_FILE, SECRET_NOTE, load_march, paris, workshop
from tests.statements import counting_statements
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio
MARCH = Month(2026, 3)


async def _projects_of_maker(world) -> dict[str, int]:
    """A public commons, a private one, and a shared one the maker owns with the newbie."""
    made = {}
    for slug, visibility, licence in (("lampe", "public", "CC-BY-SA-4.0"), ("carnet", "private", "CC-BY-SA-4.0"),
                                      ("tabouret", "members", "CC-BY-SA-4.0")):
        rows = await Project.insert(Project(title=slug.title(), slug=slug, visibility=visibility, licence=licence,
                                            created_by=world.ids["maker"], created_at=paris("2026-05-02 10:00"))
                                    ).returning(Project.id)
        made[slug] = rows[0]["id"]
        await ProjectMember.insert(ProjectMember(project=rows[0]["id"], account=world.ids["maker"], role="owner"))
    await ProjectMember.insert(ProjectMember(project=made["tabouret"], account=world.ids["newbie"],
                                             role="collaborator"))
    return made


async def test_my_data_holds_my_profile_bookings_trainings_registrations_projects_and_use(client, world):
    await load_march(world)
    await _projects_of_maker(world)
    w = await workshop(world.ids["atelier"], "2026-03-22 14:00", "2026-03-22 16:00", "done")
    await Registration.insert(Registration(workshop=w, account=world.ids["maker"]))
    await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])
    response = await client.get("/api/v1/users/me/export", headers=world.auth("maker"))
    assert response.status_code == 200
    data = response.json()
    assert data["profile"]["username"] == "maker" and data["profile"]["email"] == "maker@example.org"
    assert len(data["bookings"]) == 4 and {b["note"] for b in data["bookings"]} == {SECRET_NOTE}
    assert [t["training"] for t in data["trainings"]] == ["Impression 3D – initiation"]
    assert [r["workshop"] for r in data["workshop_registrations"]] == ["Atelier découverte"]
    assert {p["slug"]: p["role"] for p in data["projects"]} == {"lampe": "owner", "carnet": "owner",
                                                                 "tabouret": "owner"}
    assert [s["file_name"] for s in data["usage_sessions"]] == [SECRET_FILE]  # the one during their booking
    assert len(data["api_tokens"]) == 1 and "digest" not in response.text and "password" not in response.text
    others = json.dumps(data)
    assert "newbie" not in others  # nobody else's data


async def test_my_data_downloads_from_my_account_page_within_its_budget(client, world):
    await browser_login(client, "maker")
    account = await client.get("/me/account")
    assert 'href="/me/account/data.json"' in account.text and 'href="/me/account/delete"' in account.text
    with counting_statements() as seen:
        response = await client.get("/me/account/data.json")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert response.json()["profile"]["username"] == "maker"
    assert len(seen) <= 11, seen.sql  # who, then a fixed number whatever the amount of data
    client.cookies.clear()
    assert (await client.get("/me/account/data.json")).status_code in (302, 303, 401)
    assert (await client.get("/api/v1/users/me/export")).status_code == 401


async def test_deleting_my_account_keeps_the_figures_and_leaves_nothing_personal(client, world):
    await load_march(world)
    made = await _projects_of_maker(world)
    await CalendarFeed.insert(CalendarFeed(account=world.ids["maker"], token="feed-secret"))
    await PasswordReset.insert(PasswordReset(account=world.ids["maker"], digest="d" * 64,
                                             expires_at=datetime.now(UTC) + timedelta(hours=1)))
    await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])
    soon = datetime.now(UTC) + timedelta(days=2)
    await Booking.insert(Booking(machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
                                 start_at=soon, end_at=soon + timedelta(hours=1)))
    before = await figures.month_figures(MARCH, NOW)
    assert (before.network.bookings, before.network.distinct_makers, before.network.sessions) == (5, 2, 3)
    await browser_login(client, "maker")
    wrong = await submit(client, "/me/account/delete", {"password": "pas-le-bon"}, page="/me/account/delete")
    assert wrong.status_code == 403 and "pas votre mot de passe" in wrong.text
    assert await Account.exists().where(Account.username == "maker")
    done = await submit(client, "/me/account/delete", {"password": PASSWORD}, page="/me/account/delete")
    assert done.status_code == 303 and done.headers["location"] == "/account-deleted"
    assert (await client.get("/api/v1/users/me")).status_code == 401

    kept_months.forget()  # computed anew from what the deletion left, not March as kept before it
    assert await figures.month_figures(MARCH, NOW) == before  # bookings, hours, makers, use, workshops
    row = await Account.select().where(Account.id == world.ids["maker"]).first()
    assert row["username"] != "maker" and row["email"] is None and row["display_name"] == "Ancien membre"
    assert not row["active"] and row["password"] == ""
    assert not await Booking.exists().where((Booking.maker == world.ids["maker"]) & (Booking.note != ""))
    assert await Booking.count().where((Booking.maker == world.ids["maker"]) & (Booking.status == "confirmed")
                                       & (Booking.start_at > datetime.now(UTC))) == 0
    for table, column in ((BrowserSession, BrowserSession.user_id), (ApiToken, ApiToken.account),
                          (PasswordReset, PasswordReset.account), (CalendarFeed, CalendarFeed.account),
                          (Qualification, Qualification.account), (ProjectMember, ProjectMember.account)):
        assert not await table.exists().where(column == world.ids["maker"]), table
    # the public commons stays, credited to nobody; the private one is gone; the shared one is the newbie's
    assert await Project.select(Project.slug).order_by(Project.slug).where(Project.id.is_in(list(made.values()))) == [
        {"slug": "lampe"}, {"slug": "tabouret"}]
    assert await ProjectMember.select(ProjectMember.account, ProjectMember.role).where(
        ProjectMember.project == made["tabouret"]) == [{"account": world.ids["newbie"], "role": "owner"}]
    assert not await Project.exists().where(Project.created_by == world.ids["maker"])
    found = await client.get("/api/v1/users?q=membre", headers=world.auth("admin"))
    assert found.status_code == 200 and found.json() == []  # the desk finds no placeholder
    login = await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD})
    assert login.status_code == 401
    again = await client.post("/api/v1/auth/signup", json={"username": "maker", "password": "bonjour123",
                                                         "accept_rules": True})
    assert again.status_code == 201  # the name is free again


async def test_the_api_deletes_my_account_with_my_password(client, world):
    headers = world.auth("newbie")
    wrong = await client.request("DELETE", "/api/v1/users/me", json={"password": "nope"}, headers=headers)
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    gone = await client.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=headers)
    assert gone.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401


async def test_the_last_admin_cannot_delete_their_account(client, world):
    refused = await client.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD},
                                   headers=world.auth("admin"))
    assert refused.status_code == 409 and refused.json()["code"] == "last_admin_cannot_leave"
    assert "autre personne administrateur" in refused.json()["detail"]
    assert await Account.exists().where((Account.username == "admin") & (Account.active == True))  # noqa: E712
    await Account.update({Account.role: "admin"}).where(Account.id == world.ids["animator"])
    allowed = await client.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD},
                                   headers=world.auth("admin"))
    assert allowed.status_code == 204
