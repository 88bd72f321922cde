"""The projects API: create, read, edit, steps, uploads, members, deleting."""

from __future__ import annotations

import pytest

from tests.projects_support import media_dir, new_project, png, upload  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_maker_creates_a_project_and_reads_it_back(client, world):
    project = await new_project(client, world, body="# Plan\n\nDu **hêtre**.", status="in_progress")
    assert project["slug"] == "lampe-en-bois"
    assert project["licence"] == "CC-BY-SA-4.0" and project["visibility"] == "public"
    assert project["tags"] == ["bois", "lampe"]
    assert project["your_role"] == "owner"
    assert "<h2>Plan</h2>" in project["body_html"] and "<strong>hêtre</strong>" in project["body_html"]
    again = await new_project(client, world)
    assert again["slug"] == "lampe-en-bois-2"
    response = await client.get("/api/v1/projects/lampe-en-bois", headers=world.auth("maker"))
    assert response.status_code == 200 and response.json()["members"][0]["username"] == "maker"
    # others see the credited name, not the login name or the account behind it
    public = (await client.get("/api/v1/projects/lampe-en-bois")).json()["members"][0]
    assert public["credit"] == "Maker" and public["username"] is None and public["account_id"] is None


async def test_done_sets_done_at_and_leaving_done_clears_it(client, world):
    await new_project(client, world)
    done = await client.patch("/api/v1/projects/lampe-en-bois", json={"status": "done"}, headers=world.auth("maker"))
    assert done.status_code == 200 and done.json()["done_at"] is not None
    back = await client.patch("/api/v1/projects/lampe-en-bois", json={"status": "in_progress"},
                              headers=world.auth("maker"))
    assert back.json()["done_at"] is None


async def test_bad_choices_and_too_many_tags_are_refused_with_a_code(client, world):
    headers = world.auth("maker")
    bad = await client.post("/api/v1/projects", json={"title": "X", "licence": "GPL"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "project_bad_choice"
    tags = await client.post("/api/v1/projects", json={"title": "X", "tags": [f"t{i}" for i in range(11)]},
                             headers=headers)
    assert tags.status_code == 422 and tags.json()["code"] == "too_many_tags"
    blank = await client.post("/api/v1/projects", json={"title": "  "}, headers=headers)
    assert blank.status_code == 422 and blank.json()["code"] == "project_title_missing"
    anonymous = await client.post("/api/v1/projects", json={"title": "X"})
    assert anonymous.status_code == 401


async def test_steps_with_photos_appear_in_the_project(client, world, media_dir):
    await new_project(client, world)
    step = await client.post("/api/v1/projects/lampe-en-bois/steps", headers=world.auth("maker"),
                             json={"happened_on": "2026-03-14", "title": "Découpe", "body": "Au laser"})
    assert step.status_code == 201, step.text
    sent = await upload(client, world, "lampe-en-bois", "photo.png", png(), step_id=step.json()["id"], alt="Le bois")
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    assert photo["kind"] == "image" and photo["thumbnail_url"]
    project = (await client.get("/api/v1/projects/lampe-en-bois")).json()
    assert project["steps"][0]["media"][0]["alt"] == "Le bois"
    image = await client.get(photo["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"  # no transparency: kept as JPEG
    thumb = await client.get(photo["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    removed = await client.delete(f"/api/v1/projects/lampe-en-bois/media/{photo['id']}", headers=world.auth("maker"))
    assert removed.status_code == 204
    assert (await client.get(photo["url"])).status_code == 404
    assert not [p for p in media_dir.rglob("*") if p.is_file()]


async def test_deleting_a_project_removes_its_files(client, world, media_dir):
    await new_project(client, world)
    await upload(client, world, "lampe-en-bois", "a.png", png())
    assert [p for p in media_dir.rglob("*") if p.is_file()]
    response = await client.delete("/api/v1/projects/lampe-en-bois", headers=world.auth("maker"))
    assert response.status_code == 204
    assert (await client.get("/api/v1/projects/lampe-en-bois")).status_code == 404
    assert not [p for p in media_dir.rglob("*") if p.is_file()]


async def test_a_project_of_a_site_is_found_by_that_site(client, world):
    unknown = await client.post("/api/v1/projects", json={"title": "X", "site_id": 999_999},
                                headers=world.auth("maker"))
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    await new_project(client, world, site_id=world.ids["ailleurs"])
    found = (await client.get("/api/v1/projects", params={"site": "ailleurs"})).json()
    assert [p["slug"] for p in found["items"]] == ["lampe-en-bois"]
    assert (await client.get("/api/v1/projects", params={"site": "atelier"})).json()["total"] == 0
    page = (await client.get("/projects/lampe-en-bois")).text
    assert 'href="/sites/ailleurs"' in page
    moved = await client.patch("/api/v1/projects/lampe-en-bois", json={"site_id": world.ids["atelier"]},
                               headers=world.auth("maker"))
    assert moved.status_code == 200 and moved.json()["site"] == "atelier"
    cleared = await client.patch("/api/v1/projects/lampe-en-bois", json={"site_id": None}, headers=world.auth("maker"))
    assert cleared.json()["site"] is None


async def test_numbers_too_big_to_be_ids_are_simply_not_found(client, world):
    await new_project(client, world)
    huge = 99_999_999_999
    headers = world.auth("animator")
    await client.post("/api/v1/projects/lampe-en-bois/members", json={"username": "animator"},
                      headers=world.auth("maker"))
    answers = [
        await client.get(f"/projects/media/{huge}"),
        await client.get(f"/projects/media/{huge}/thumb"),
        await client.post("/api/v1/projects/lampe-en-bois/bookings", json={"booking_id": huge}, headers=headers),
        await client.delete(f"/api/v1/projects/lampe-en-bois/bookings/{huge}", headers=headers),
        await client.post("/api/v1/projects/lampe-en-bois/usage", json={"session_id": huge}, headers=headers),
        await client.delete(f"/api/v1/projects/lampe-en-bois/usage/{huge}", headers=headers),
        await client.delete(f"/api/v1/projects/lampe-en-bois/steps/{huge}", headers=headers),
        await client.delete(f"/api/v1/projects/lampe-en-bois/media/{huge}", headers=headers),
        await client.delete(f"/api/v1/projects/lampe-en-bois/members/{huge}", headers=world.auth("maker")),
        await client.post("/api/v1/projects", json={"title": "X", "site_id": huge}, headers=headers),
        await client.patch("/api/v1/projects/lampe-en-bois", json={"site_id": huge}, headers=headers),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
