"""Who sees and changes a project: private ones stay invisible to others everywhere
(gallery, page, API, media, exports); members-only ones need an account; collaborators
edit but neither delete nor manage people."""

from __future__ import annotations

import pytest

from tests.projects_support import binary_stl, media_dir, new_project, png, upload  # noqa: F401
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio


async def private_project(client, world) -> dict:
    project = await new_project(client, world, title="Secret", visibility="private")
    photo = (await upload(client, world, "secret", "p.png", png())).json()
    model = (await upload(client, world, "secret", "m.stl", binary_stl())).json()
    return {"project": project, "photo": photo, "model": model}


async def test_private_project_is_invisible_to_strangers_everywhere(client, world):
    made = await private_project(client, world)
    addresses = ["/api/v1/projects/secret", "/api/v1/projects/secret/export.json",
                 "/api/v1/projects/secret/export.wiki", "/projects/secret", "/projects/secret/export.json",
                 "/projects/secret/export.wiki", made["photo"]["url"], made["photo"]["thumbnail_url"],
                 made["model"]["url"]]
    for who in (None, "newbie", "animator"):
        headers = world.auth(who) if who else {}
        for address in addresses:
            response = await client.get(address, headers=headers)
            assert response.status_code == 404, (who, address, response.status_code)
        listed = (await client.get("/api/v1/projects", headers=headers)).json()
        assert listed["total"] == 0
    await browser_login(client, "newbie")
    gallery = await client.get("/projects")
    assert "Secret" not in gallery.text and "0 projet" in gallery.text
    assert (await client.get("/projects/secret")).status_code == 404


async def test_owner_and_admin_see_a_private_project(client, world):
    made = await private_project(client, world)
    for who in ("maker", "admin"):
        assert (await client.get("/api/v1/projects/secret", headers=world.auth(who))).status_code == 200
        assert (await client.get(made["model"]["url"], headers=world.auth(who))).status_code == 200
    listed = (await client.get("/api/v1/projects", headers=world.auth("maker"))).json()
    assert [p["slug"] for p in listed["items"]] == ["secret"]


async def test_members_only_project_needs_an_account(client, world):
    await new_project(client, world, title="Réseau", visibility="members")
    assert (await client.get("/api/v1/projects/reseau")).status_code == 404
    assert (await client.get("/projects/reseau")).status_code == 404
    assert (await client.get("/api/v1/projects/reseau", headers=world.auth("newbie"))).status_code == 200
    assert (await client.get("/api/v1/projects")).json()["total"] == 0
    assert (await client.get("/api/v1/projects", headers=world.auth("newbie"))).json()["total"] == 1
    await browser_login(client, "newbie")
    assert (await client.get("/projects/reseau")).status_code == 200


async def test_collaborator_edits_and_adds_steps_but_cannot_delete_or_manage(client, world):
    await new_project(client, world)
    added = await client.post("/api/v1/projects/lampe-en-bois/members", headers=world.auth("maker"),
                              json={"username": "newbie"})
    assert added.status_code == 200 and {m["role"] for m in added.json()} == {"owner", "collaborator"}
    headers = world.auth("newbie")
    edited = await client.patch("/api/v1/projects/lampe-en-bois", json={"summary": "Mieux"}, headers=headers)
    assert edited.status_code == 200 and edited.json()["your_role"] == "collaborator"
    step = await client.post("/api/v1/projects/lampe-en-bois/steps", json={"happened_on": "2026-01-02"},
                             headers=headers)
    assert step.status_code == 201
    assert (await upload(client, world, "lampe-en-bois", "p.png", png(), who="newbie")).status_code == 201
    licence = await client.patch("/api/v1/projects/lampe-en-bois", json={"licence": "CC0-1.0"}, headers=headers)
    assert licence.status_code == 403 and licence.json()["code"] == "project_owners_only"
    deleted = await client.delete("/api/v1/projects/lampe-en-bois", headers=headers)
    assert deleted.status_code == 403
    members = await client.post("/api/v1/projects/lampe-en-bois/members", json={"username": "animator"},
                                headers=headers)
    assert members.status_code == 403
    await browser_login(client, "newbie")
    assert (await client.get("/projects/lampe-en-bois/edit")).status_code == 200
    assert (await client.get("/projects/lampe-en-bois/members")).status_code == 403
    refused = await submit(client, "/projects/lampe-en-bois/delete", {}, page="/projects/lampe-en-bois")
    assert refused.status_code == 403
    assert (await client.get("/api/v1/projects/lampe-en-bois")).status_code == 200


async def test_strangers_cannot_change_a_public_project(client, world):
    await new_project(client, world)
    headers = world.auth("newbie")
    assert (await client.patch("/api/v1/projects/lampe-en-bois", json={"title": "À moi"},
                               headers=headers)).status_code == 403
    assert (await client.post("/api/v1/projects/lampe-en-bois/steps", json={"happened_on": "2026-01-02"},
                              headers=headers)).status_code == 403
    assert (await upload(client, world, "lampe-en-bois", "p.png", png(), who="newbie")).status_code == 403
    assert (await client.patch("/api/v1/projects/lampe-en-bois", json={"title": "À moi"})).status_code == 401
    await browser_login(client, "newbie")
    assert (await client.get("/projects/lampe-en-bois/edit")).status_code == 403
    assert (await client.get("/projects/lampe-en-bois")).status_code == 200


async def test_the_last_owner_cannot_leave(client, world):
    await new_project(client, world)
    response = await client.delete(f"/api/v1/projects/lampe-en-bois/members/{world.ids['maker']}",
                                   headers=world.auth("maker"))
    assert response.status_code == 409 and response.json()["code"] == "project_last_owner"


async def test_gallery_filters_search_and_pages(client, world):
    await new_project(client, world, title="Lampe en bois", tags=["Bois"], licence="CC0-1.0")
    await new_project(client, world, title="Porte-clés", summary="En PLA", tags=["impression 3D"], status="done")
    await new_project(client, world, title="Caché", visibility="private")

    async def slugs(**query) -> list[str]:
        body = (await client.get("/api/v1/projects", params=query)).json()
        return sorted(p["slug"] for p in body["items"])

    assert await slugs() == ["lampe-en-bois", "porte-cles"]
    assert await slugs(q="LAMPE") == ["lampe-en-bois"]
    assert await slugs(q="pla") == ["porte-cles"]
    assert await slugs(q="3d") == ["porte-cles"]  # found by its tag
    assert await slugs(tag="Impression 3D") == ["porte-cles"]
    assert await slugs(licence="CC0-1.0") == ["lampe-en-bois"]
    assert await slugs(status="done") == ["porte-cles"]
    first = (await client.get("/api/v1/projects", params={"per_page": 1})).json()
    second = (await client.get("/api/v1/projects", params={"per_page": 1, "page": 2})).json()
    assert first["total"] == 2 and first["items"][0]["slug"] != second["items"][0]["slug"]
    page = await client.get("/projects", params={"q": "lampe"})
    assert page.status_code == 200 and "Lampe en bois" in page.text and "Porte-clés" not in page.text
