"""Projects under odd input: numbers a form cannot mean, NUL bytes PostgreSQL refuses, page
numbers past any database limit, a project left without an owner, a step left half-saved.
Each answer is a clear refusal (or an empty page), never a 500, and nothing is half-written."""

from __future__ import annotations

import pytest

from fabbooking.errors import Refused
from fabbooking.projects import media
from fabbooking.projects.tables import (
    MediaFile,
    Project,
    ProjectBooking,
    ProjectMember,
    ProjectStep,
    ProjectUsage,
)
from tests.conftest import booking_body
from tests.projects_support import media_dir, new_project, png  # noqa: F401
from tests.web_helpers import browser_login, csrf, submit

FIELDS = {"summary": "", "body": "", "tags": "", "status": "idea", "visibility": "public",
          "licence": "CC-BY-SA-4.0"}

pytestmark = pytest.mark.anyio

HUGE = 2**64  # past PostgreSQL's bigint and SQLite's integer


@pytest.mark.parametrize("site", ["²", "9" * 5000, str(HUGE), "-1", "0"])
async def test_a_site_that_is_not_a_plain_number_is_refused_in_the_forms(client, world, site):
    await browser_login(client, "maker")
    created = await submit(client, "/projects/new", {**FIELDS, "title": "Nichoir", "site": site}, page="/projects/new")
    assert created.status_code == 404 and "lieu" in created.text
    assert await Project.count() == 0
    await new_project(client, world, site_id=world.ids["atelier"])
    edited = await submit(client, "/projects/lampe-en-bois/edit", {**FIELDS, "title": "Lampe", "site": site},
                          page="/projects/new")
    assert edited.status_code == 404 and "lieu" in edited.text
    assert (await Project.select(Project.title, Project.site).first()) == {
        "title": "Lampe en bois", "site": world.ids["atelier"]}


async def test_an_empty_site_still_means_no_site(client, world):
    await browser_login(client, "maker")
    created = await submit(client, "/projects/new", {**FIELDS, "title": "Nichoir", "site": ""}, page="/projects/new")
    assert created.status_code == 303
    assert (await Project.select(Project.site).first())["site"] is None


async def test_odd_numbers_ticked_in_the_bookings_and_uses_forms_are_ignored(client, world):
    await new_project(client, world)
    booked = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]),
                               headers=world.auth("maker"))
    await browser_login(client, "maker")
    response = await submit(client, "/projects/lampe-en-bois/bookings",
                            {"booking": ["²", "9" * 5000, str(booked.json()["id"])]}, page="/projects/new")
    assert response.status_code == 303
    attached = await ProjectBooking.select(ProjectBooking.booking)
    assert [row["booking"] for row in attached] == [booked.json()["id"]]  # the real one only
    await browser_login(client, "animator")
    response = await submit(client, "/projects/lampe-en-bois/usage", {"session": "²"}, page="/projects/new")
    assert response.status_code == 303
    assert await ProjectUsage.count() == 0


@pytest.mark.parametrize("path", ["/projects/%00", "/api/v1/projects/%00", "/api/v1/projects/a%00b/export.json",
                                  "/projects/%00/export.wiki", "/projects/%C2%B2/edit"])
async def test_a_slug_no_project_can_have_is_not_found(client, world, path):
    await browser_login(client, "maker")  # pages with the browser session, the API with the token
    response = await client.get(path, headers=world.auth("maker"))
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("name", ["q", "kind", "site", "tag", "licence", "status"])
async def test_a_nul_byte_in_a_gallery_filter_finds_nothing_rather_than_failing(client, world, name):
    await new_project(client, world)
    api = await client.get(f"/api/v1/projects?{name}=%00")
    assert api.status_code == 200
    page = await client.get(f"/projects?{name}=%00")
    assert page.status_code == 200


async def test_a_page_number_past_any_database_limit_is_no_failure(client, world):
    await new_project(client, world)
    api = await client.get(f"/api/v1/projects?page={HUGE}")
    assert api.status_code == 200
    assert api.json()["items"] == [] and api.json()["total"] == 1  # the API: past the end, nothing
    assert (await client.get(f"/api/v1/projects?page={2**40}")).json()["items"] == []
    for number in (HUGE, 2**40, 2, 0, -5):  # the page shows the page it names: the last (or first) one
        page = await client.get(f"/projects?page_number={number}")
        assert page.status_code == 200 and "Lampe en bois" in page.text, number
        assert "Aucun projet ne correspond" not in page.text


async def test_a_nul_byte_in_a_username_to_add_is_dropped_like_in_every_text(client, world):
    """The edge drops NUL from every text (fabbooking/api/hostile_input.py): « new\\0bie » is
    « newbie », whom the owner could have typed anyway; a NUL alone is no name at all."""
    await new_project(client, world)
    await browser_login(client, "maker")
    page = await submit(client, "/projects/lampe-en-bois/members", {"username": "\x00"}, page="/projects/new")
    assert page.status_code == 422
    assert await ProjectMember.count() == 1
    response = await client.post("/api/v1/projects/lampe-en-bois/members", json={"username": "new\x00bie"},
                                 headers=world.auth("maker"))
    assert response.status_code in (200, 201), response.text
    assert await ProjectMember.count() == 2


async def test_the_last_owner_cannot_make_themselves_a_mere_collaborator(client, world):
    """Else the project has no owner left: nobody could change its visibility, its people,
    or delete it."""
    await new_project(client, world)
    demoted = await client.post("/api/v1/projects/lampe-en-bois/members",
                                json={"username": "maker", "role": "collaborator"}, headers=world.auth("maker"))
    assert demoted.status_code == 409 and demoted.json()["code"] == "project_last_owner"
    assert (await ProjectMember.select(ProjectMember.role).first())["role"] == "owner"
    # with a second owner, stepping back is fine
    added = await client.post("/api/v1/projects/lampe-en-bois/members",
                              json={"username": "newbie", "role": "owner"}, headers=world.auth("maker"))
    assert added.status_code == 200
    stepped_back = await client.post("/api/v1/projects/lampe-en-bois/members",
                                     json={"username": "maker", "role": "collaborator"},
                                     headers=world.auth("maker"))
    assert stepped_back.status_code == 200
    roles = {m["username"]: m["role"] for m in stepped_back.json()}
    assert roles == {"maker": "collaborator", "newbie": "owner"}


async def _post_step(client, files):
    token = await csrf(client, "/projects/lampe-en-bois/steps/new")
    return await client.post("/projects/lampe-en-bois/steps/new",
                             data={"_csrf_token": token, "happened_on": "2026-03-14", "title": "Montage"},
                             files=[("files", (name, data, "image/png")) for name, data in files])


async def test_a_step_whose_files_would_overflow_the_project_is_not_saved_at_all(client, world, monkeypatch,
                                                                                  media_dir):
    await new_project(client, world)
    monkeypatch.setattr(media, "MAX_PROJECT_BYTES", len(png()) + 10)
    await browser_login(client, "maker")
    response = await _post_step(client, [("a.png", png()), ("b.png", png(10, 10))])
    assert response.status_code == 422
    assert await ProjectStep.count() == 0 and await MediaFile.count() == 0


async def test_a_file_failing_half_way_through_a_step_takes_the_step_back(client, world, monkeypatch,
                                                                           media_dir):
    await new_project(client, world)
    real_write = media.write_atomically
    written: list[str] = []

    def second_write_fails(stored: str, data: bytes):
        if len(written) >= 2:  # the first photo and its thumbnail went through
            raise Refused("media_storage_failed", status=503)
        written.append(stored)
        return real_write(stored, data)

    monkeypatch.setattr(media, "write_atomically", second_write_fails)
    await browser_login(client, "maker")
    response = await _post_step(client, [("a.png", png()), ("b.png", png(10, 10))])
    assert response.status_code == 503
    assert await ProjectStep.count() == 0 and await MediaFile.count() == 0
    assert [p for p in media_dir.rglob("*") if p.is_file()] == []

