"""The projects' pages without JavaScript: create, edit, a step with photos through a
multipart form (its CSRF field works), people, bookings, and the booking form's project."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.projects import media
from fabbooking.projects.tables import MediaFile, ProjectBooking, ProjectStep
from tests.projects_support import binary_stl, media_dir, new_project, png  # noqa: F401
from tests.web_helpers import browser_login, csrf, free_cell_links, submit

pytestmark = pytest.mark.anyio


async def create_by_form(client, title: str = "Nichoir", **extra):
    return await submit(client, "/projects/new", {"title": title, "summary": "Pour les mésanges",
                                                  "body": "Du *sapin*.", "tags": "bois, oiseaux",
                                                  "status": "idea", "visibility": "public",
                                                  "licence": "CC-BY-SA-4.0", **extra}, page="/projects/new")


async def test_maker_creates_a_project_and_adds_a_step_with_photos(client, world, media_dir):
    await browser_login(client, "maker")
    created = await create_by_form(client)
    assert created.status_code == 303 and created.headers["location"] == "/projects/nichoir?done=created"
    assert 'id="site"' in (await client.get("/projects/new")).text
    form = await client.get("/projects/nichoir/steps/new")
    assert 'enctype="multipart/form-data"' in form.text
    token = await csrf(client, "/projects/nichoir/steps/new")
    response = await client.post("/projects/nichoir/steps/new",
                                 data={"_csrf_token": token, "happened_on": "2026-03-14", "title": "Assemblage",
                                       "body": "Vissé **solide**", "alt": "Le nichoir monté"},
                                 files=[("files", ("photo.png", png(), "image/png")),
                                        ("files", ("plan.stl", binary_stl(), "model/stl"))])
    assert response.status_code == 303, response.text
    page = (await client.get("/projects/nichoir")).text
    assert "Assemblage" in page and "<strong>solide</strong>" in page
    assert 'alt="Le nichoir monté"' in page
    assert "plan.stl" in page and "Mo" in page or "ko" in page
    assert "CC BY-SA 4.0" in page and "Maker" in page  # licence and credits
    thumb = re.search(r'src="(/projects/media/\d+/thumb)"', page).group(1)
    assert (await client.get(thumb)).status_code == 200
    assert await MediaFile.count() == 2


async def test_a_multipart_form_without_its_csrf_token_is_refused(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    response = await client.post("/projects/nichoir/steps/new", data={"happened_on": "2026-03-14"},
                                 files=[("files", ("photo.png", png(), "image/png"))])
    assert response.status_code == 403
    assert await MediaFile.count() == 0


async def test_a_refused_file_is_named_and_nothing_is_saved(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    token = await csrf(client, "/projects/nichoir/steps/new")
    response = await client.post("/projects/nichoir/steps/new",
                                 data={"_csrf_token": token, "happened_on": "2026-03-14"},
                                 files=[("files", ("ok.png", png(), "image/png")),
                                        ("files", ("page.jpg", b"<html><script>alert(1)</script>", "image/jpeg"))])
    assert response.status_code == 422
    text = html_lib.unescape(response.text)
    assert "page.jpg" in text and "type de fichier n'est pas accepté" in text and "Rien n'est enregistré" in text
    assert await MediaFile.count() == 0 and await ProjectStep.count() == 0


async def test_an_oversized_page_upload_gets_a_clear_413_page(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    token = await csrf(client, "/projects/nichoir/steps/new")
    response = await client.post("/projects/nichoir/steps/new",
                                 data={"_csrf_token": token, "happened_on": "2026-03-14"},
                                 files=[("files", ("big.stl", b"\0" * (media.MAX_REQUEST_BYTES + 1), "model/stl"))])
    assert response.status_code == 413
    assert "plusieurs fois" in response.text and "<html" in response.text


async def test_a_bad_step_date_is_explained_next_to_the_form(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    response = await submit(client, "/projects/nichoir/steps/new", {"happened_on": "hier"},
                            page="/projects/nichoir/steps/new")
    assert response.status_code == 422 and "2026-03-14" in html_lib.unescape(response.text)


async def test_edit_form_and_cover(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    edited = await submit(client, "/projects/nichoir/edit", {"title": "Nichoir à mésanges", "status": "done",
                                                             "site": str(world.ids["atelier"]),
                                                             "tags": "bois", "visibility": "members",
                                                             "licence": "CC0-1.0"}, page="/projects/nichoir/edit")
    assert edited.status_code == 303
    token = await csrf(client, "/projects/nichoir/edit")
    cover = await client.post("/projects/nichoir/cover", data={"_csrf_token": token, "alt": "Vue de face"},
                              files={"cover": ("c.png", png(), "image/png")})
    assert cover.status_code == 303
    page = (await client.get("/projects/nichoir")).text
    assert "Nichoir à mésanges" in page and "Terminé" in page and "CC0 1.0" in page
    assert 'href="/sites/atelier"' in page
    assert 'alt="Vue de face"' in page
    mine = (await client.get("/me/projects")).text
    assert "Nichoir à mésanges" in mine and "/thumb" in mine
    not_image = await client.post("/projects/nichoir/cover", data={"_csrf_token": token},
                                  files={"cover": ("c.stl", binary_stl(), "model/stl")})
    assert not_image.status_code == 422 and "couverture doit être une photo" in html_lib.unescape(not_image.text)


async def test_owner_adds_a_collaborator_by_username(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    unknown = await submit(client, "/projects/nichoir/members", {"username": "personne", "role": "collaborator"},
                           page="/projects/nichoir/members")
    assert unknown.status_code == 422 and "personne" in unknown.text
    added = await submit(client, "/projects/nichoir/members", {"username": "newbie", "role": "collaborator"},
                         page="/projects/nichoir/members")
    assert added.status_code == 303
    assert "Newbie" in (await client.get("/projects/nichoir/members")).text


async def booked_by_form(client, world, project: str = "") -> int:
    cell = html_lib.unescape(free_cell_links((await client.get(f"/machines/{world.ids['printer']}")).text)[-1])
    form = await client.get(cell)
    start = re.search(r'<option value="([^"]+)"', form.text).group(1)
    response = await submit(client, f"/machines/{world.ids['printer']}/book",
                            {"cell": start, "start": start, "minutes": "60", "project": project}, page=cell)
    assert response.status_code == 303, response.text
    return (await Booking.select(Booking.id).order_by(Booking.id, ascending=False).first())["id"]


async def test_booking_form_offers_my_projects_and_attaches_the_booking(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    cell = html_lib.unescape(free_cell_links((await client.get(f"/machines/{world.ids['printer']}")).text)[-1])
    form = (await client.get(cell)).text
    assert "Pour quel projet ?" in form and 'value="nichoir"' in form
    booking_id = await booked_by_form(client, world, project="nichoir")
    attached = await ProjectBooking.select().where(ProjectBooking.booking == booking_id)
    assert len(attached) == 1
    page = (await client.get("/projects/nichoir")).text
    assert "1 h" in page and "1 réservation" in page


async def test_ticking_bookings_attaches_and_unticking_detaches(client, world):
    await browser_login(client, "maker")
    await create_by_form(client)
    booking_id = await booked_by_form(client, world)
    listing = await client.get("/projects/nichoir/bookings")
    assert f'value="{booking_id}"' in listing.text
    ticked = await submit(client, "/projects/nichoir/bookings", {"booking": str(booking_id)},
                          page="/projects/nichoir/bookings")
    assert ticked.status_code == 303 and await ProjectBooking.count() == 1
    unticked = await submit(client, "/projects/nichoir/bookings", {}, page="/projects/nichoir/bookings")
    assert unticked.status_code == 303 and await ProjectBooking.count() == 0


async def test_owner_deletes_after_confirming(client, world, media_dir):
    await new_project(client, world, title="Nichoir")
    await browser_login(client, "maker")
    assert "On ne peut pas revenir" in (await client.get("/projects/nichoir/delete")).text
    deleted = await submit(client, "/projects/nichoir/delete", {}, page="/projects/nichoir/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/me/projects?done=deleted"
    assert (await client.get("/projects/nichoir")).status_code == 404


async def test_pages_that_change_things_send_anonymous_people_to_login(client, world):
    await new_project(client, world, title="Nichoir")
    for path in ("/projects/new", "/projects/nichoir/edit", "/projects/nichoir/steps/new", "/me/projects"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_staff_tick_walk_in_uses_of_their_sites_for_a_project(client, world):
    from datetime import UTC, datetime, timedelta

    from fabbooking.projects.tables import ProjectUsage
    from fabbooking.usage.tables import UsageSession

    await new_project(client, world, title="Nichoir")
    started = datetime.now(UTC) - timedelta(days=2)
    ids = []
    for key, machine in (("here", "printer"), ("far", "far_printer")):
        rows = await UsageSession.insert(UsageSession(
            key=key, machine=world.ids[machine], job_key=key, started_at=started, ended_at=started + timedelta(minutes=30),
            duration_s=1800, outcome="completed", walk_in=True, file_name=f"{key}.gcode")).returning(UsageSession.id)
        ids.append(rows[0]["id"])
    await browser_login(client, "maker")
    assert (await client.get("/projects/nichoir/usage")).status_code == 403
    await browser_login(client, "animator")
    listing = await client.get("/projects/nichoir/usage")
    assert listing.status_code == 200 and "here.gcode" in listing.text and "far.gcode" not in listing.text
    ticked = await submit(client, "/projects/nichoir/usage", {"session": str(ids[0])}, page="/projects/nichoir/usage")
    assert ticked.status_code == 303 and await ProjectUsage.count() == 1
    assert "30 min" in (await client.get("/projects/nichoir")).text
    await submit(client, "/projects/nichoir/usage", {}, page="/projects/nichoir/usage")
    assert await ProjectUsage.count() == 0


async def test_an_owner_who_leaves_goes_back_to_the_project(client, world):
    await new_project(client, world, title="Nichoir")
    await client.post("/api/v1/projects/nichoir/members", json={"username": "newbie", "role": "owner"},
                      headers=world.auth("maker"))
    await browser_login(client, "maker")
    left = await submit(client, f"/projects/nichoir/members/{world.ids['maker']}/remove", {},
                        page="/projects/nichoir/members")
    assert left.status_code == 303 and left.headers["location"] == "/projects/nichoir"
    assert (await client.get("/projects/nichoir/edit")).status_code == 403


async def test_editors_delete_a_photo_from_the_page(client, world, media_dir):
    from tests.projects_support import upload

    await new_project(client, world, title="Nichoir")
    step = (await client.post("/api/v1/projects/nichoir/steps", json={"happened_on": "2026-03-14"},
                              headers=world.auth("maker"))).json()
    photo = (await upload(client, world, "nichoir", "p.png", png(), step_id=step["id"])).json()
    await browser_login(client, "maker")
    assert "Supprimer la photo" in (await client.get("/projects/nichoir")).text
    deleted = await submit(client, f"/projects/nichoir/media/{photo['id']}/delete", {}, page="/projects/nichoir")
    assert deleted.status_code == 303 and await MediaFile.count() == 0
    assert not [p for p in media_dir.rglob("*") if p.is_file()]
    await browser_login(client, "newbie")
    assert "Supprimer la photo" not in (await client.get("/projects/nichoir")).text


async def test_project_pages_answer_in_english_too(client, world):
    await new_project(client, world, title="Nichoir")
    await browser_login(client, "maker")
    for path in ("/projects", "/projects/nichoir", "/projects/nichoir/edit", "/projects/nichoir/steps/new",
                 "/me/projects"):
        response = await client.get(path, params={"lang": "en"})
        assert response.status_code == 200 and '<html lang="en">' in response.text, path
