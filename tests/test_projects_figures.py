"""Machine time of a project from attached bookings and usage sessions, the rules for
attaching them, and the JSON and wikitext exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.projects.tables import ProjectBooking, ProjectUsage
from fabbooking.usage.tables import UsageSession
from tests.projects_support import binary_stl, media_dir, new_project, png, upload  # noqa: F401

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def booking(world, machine: str, start: datetime, minutes: int, maker: str = "maker",
                  status: str = "confirmed", purpose: str = "maker") -> int:
    rows = await Booking.insert(Booking(
        machine=world.ids[machine], maker=world.ids[maker], booked_by=world.ids[maker], start_at=start,
        end_at=start + timedelta(minutes=minutes), status=status, purpose=purpose)).returning(Booking.id)
    return rows[0]["id"]


async def session(world, machine: str, key: str, duration_s: float | None, booking_id: int | None = None,
                  energy: float | None = None, grams: float | None = None, length_mm: float | None = None,
                  start: datetime = T0) -> int:
    rows = await UsageSession.insert(UsageSession(
        key=key, machine=world.ids[machine], job_key=key, started_at=start,
        ended_at=start + timedelta(seconds=duration_s or 0), duration_s=duration_s, outcome="completed",
        energy_wh=energy, material_grams=grams, material_length_mm=length_mm, booking=booking_id,
        walk_in=booking_id is None)).returning(UsageSession.id)
    return rows[0]["id"]


async def attach(client, world, who: str, booking_id: int):
    return await client.post("/api/v1/projects/lampe-en-bois/bookings", json={"booking_id": booking_id},
                             headers=world.auth(who))


async def test_machine_time_adds_up_bookings_their_sessions_and_walk_ins(client, world):
    await new_project(client, world)
    first = await booking(world, "printer", T0, 90)
    second = await booking(world, "far_printer", T0 + timedelta(days=1), 60)
    elsewhere = await booking(world, "printer", T0 + timedelta(days=2), 30)  # not attached
    await session(world, "printer", "a", 3000, first, energy=120.5, grams=35, length_mm=11_500)
    await session(world, "printer", "b", 1200, first, energy=40, grams=10.5, length_mm=3_500)
    await session(world, "far_printer", "c", 1800, second, energy=60)
    await session(world, "printer", "d", 999, elsewhere, energy=999)
    walk_in = await session(world, "laser", "e", 600, None, energy=80)
    assert (await attach(client, world, "maker", first)).status_code == 200
    assert (await attach(client, world, "maker", second)).status_code == 200
    figures = await client.post("/api/v1/projects/lampe-en-bois/usage", json={"session_id": walk_in},
                                headers=world.auth("animator"))
    assert figures.status_code == 200, figures.text
    expected = {
        "booked_minutes": 90 + 60,
        "used_minutes": round((3000 + 1200 + 1800 + 600) / 60),  # 110
        "bookings": 2, "jobs": 4,
        "energy_wh": 120.5 + 40 + 60 + 80,
        "material_grams": 45.5, "material_length_m": 15.0,
    }
    body = figures.json()
    assert {k: body[k] for k in expected} == expected
    assert [s["slug"] for s in body["sites"]] == ["ailleurs", "atelier"]
    page = (await client.get("/projects/lampe-en-bois")).text
    assert "1 h 50" in page and "2 h 30" in page and "300,5 Wh" in page


async def test_who_may_attach_which_booking(client, world):
    await new_project(client, world)
    mine = await booking(world, "printer", T0, 60)
    newbies = await booking(world, "printer", T0 + timedelta(hours=2), 60, maker="newbie")
    cancelled = await booking(world, "printer", T0 + timedelta(hours=4), 60, status="cancelled")
    # someone else's booking: not found for a maker, refused for the site's animator until they join
    assert (await attach(client, world, "maker", newbies)).status_code == 404
    refused = await attach(client, world, "animator", newbies)
    assert refused.status_code == 422 and refused.json()["code"] == "booking_maker_not_member"
    await client.post("/api/v1/projects/lampe-en-bois/members", json={"username": "newbie"},
                      headers=world.auth("maker"))
    assert (await attach(client, world, "animator", newbies)).status_code == 200  # on their behalf
    assert (await attach(client, world, "stranger", mine)).status_code == 404  # other site's animator
    assert (await attach(client, world, "maker", cancelled)).json()["code"] == "booking_not_attachable"
    assert (await attach(client, world, "maker", mine)).status_code == 200
    assert (await attach(client, world, "maker", mine)).status_code == 200  # twice changes nothing
    await new_project(client, world, title="Autre")
    other = await client.post("/api/v1/projects/autre/bookings", json={"booking_id": mine},
                              headers=world.auth("maker"))
    assert other.status_code == 409 and other.json()["code"] == "booking_already_attached"
    assert await ProjectBooking.count() == 2


async def test_only_the_sites_staff_attach_a_walk_in_session(client, world):
    await new_project(client, world)
    walk_in = await session(world, "printer", "w", 600)
    for who, status in (("maker", 404), ("stranger", 404), ("animator", 200)):
        response = await client.post("/api/v1/projects/lampe-en-bois/usage", json={"session_id": walk_in},
                                     headers=world.auth(who))
        assert response.status_code == status, who
    booked = await booking(world, "printer", T0, 60)
    counted = await session(world, "printer", "x", 600, booked)
    await attach(client, world, "maker", booked)
    again = await client.post("/api/v1/projects/lampe-en-bois/usage", json={"session_id": counted},
                              headers=world.auth("animator"))
    assert again.status_code == 409 and again.json()["code"] == "usage_already_counted"


async def test_a_walk_in_session_counts_for_one_project_only(client, world):
    await new_project(client, world)
    await new_project(client, world, title="Autre")
    walk_in = await session(world, "printer", "w", 600)
    url = "/api/v1/projects/{}/usage"
    first = await client.post(url.format("lampe-en-bois"), json={"session_id": walk_in},
                              headers=world.auth("animator"))
    twice = await client.post(url.format("lampe-en-bois"), json={"session_id": walk_in},
                              headers=world.auth("animator"))
    other = await client.post(url.format("autre"), json={"session_id": walk_in},
                              headers=world.auth("animator"))
    assert (first.status_code, twice.status_code) == (200, 200)  # asking again changes nothing
    assert other.status_code == 409 and other.json()["code"] == "usage_already_attached"
    assert await ProjectUsage.count() == 1


async def test_json_export_has_licence_credits_media_and_machine_time(client, world):
    await new_project(client, world, licence="CC-BY-4.0", body="Du **bois**")
    await client.post("/api/v1/projects/lampe-en-bois/members", json={"username": "newbie"},
                      headers=world.auth("maker"))
    step = (await client.post("/api/v1/projects/lampe-en-bois/steps", headers=world.auth("maker"),
                              json={"happened_on": "2026-03-14", "title": "Découpe"})).json()
    await upload(client, world, "lampe-en-bois", "photo.png", png(), step_id=step["id"], alt="Planches")
    await attach(client, world, "maker", await booking(world, "printer", T0, 45))
    response = await client.get("/api/v1/projects/lampe-en-bois/export.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == 'attachment; filename="lampe-en-bois.json"'
    data = json.loads(response.content)
    assert data["licence"]["code"] == "CC-BY-4.0" and data["licence"]["name"] == "CC BY 4.0"
    assert data["licence"]["url"].startswith("https://creativecommons.org/licenses/by/4.0/")
    assert data["credits"] == [{"name": "Maker", "role": "owner"}, {"name": "Newbie", "role": "collaborator"}]
    assert data["steps"][0]["title"] == "Découpe"
    assert data["steps"][0]["media"][0]["url"].startswith("http://127.0.0.1:8000/projects/media/")
    assert data["machine_time"]["booked_minutes"] == 45
    assert (await client.get("/projects/lampe-en-bois/export.json")).status_code == 200


async def test_wikitext_export_has_headings_steps_files_licence_and_credits(client, world):
    await new_project(client, world, body="## Matériel\n\n- contreplaqué\n- vis")
    step = (await client.post("/api/v1/projects/lampe-en-bois/steps", headers=world.auth("maker"),
                              json={"happened_on": "2026-03-14", "title": "Découpe",
                                    "body": "Voir [le plan](https://example.org/plan)"})).json()
    await upload(client, world, "lampe-en-bois", "cube.stl", binary_stl(), step_id=step["id"])
    response = await client.get("/api/v1/projects/lampe-en-bois/export.wiki")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment")
    text = response.text
    assert text.startswith("''Une lampe de chevet''")  # the wiki page's name is its title
    assert "Lampe en bois" not in text
    assert "\n== Matériel ==\n" in text and "* contreplaqué" in text
    assert "=== 14 mars 2026 — Découpe ===" in text
    assert "[https://example.org/plan le plan]" in text
    assert "[http://127.0.0.1:8000/projects/media/" in text and "cube.stl" in text
    assert "{{CC-by-sa-4.0}}" in text and "CC BY-SA 4.0" in text
    assert "== Crédits ==\n\n* Maker" in text


async def test_exports_link_to_the_public_url_whatever_host_the_request_names(client, world, monkeypatch):
    monkeypatch.setenv("FABBOOKING_PUBLIC_URL", "https://fab.brest.example")
    await new_project(client, world)
    await upload(client, world, "lampe-en-bois", "photo.png", png(), alt="Planches")
    hostile = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    for address in ("/api/v1/projects/lampe-en-bois/export.json", "/projects/lampe-en-bois/export.json",
                    "/api/v1/projects/lampe-en-bois/export.wiki", "/projects/lampe-en-bois/export.wiki"):
        response = await client.get(address, headers=hostile)
        assert response.status_code == 200, address
        assert "evil.example" not in response.text and "testserver" not in response.text
        assert "https://fab.brest.example/projects/lampe-en-bois" in response.text
        assert "https://fab.brest.example/projects/media/" in response.text


async def test_private_exports_only_for_the_project_people(client, world):
    await new_project(client, world, visibility="private")
    for address in ("/api/v1/projects/lampe-en-bois/export.json", "/api/v1/projects/lampe-en-bois/export.wiki"):
        assert (await client.get(address, headers=world.auth("newbie"))).status_code == 404
        assert (await client.get(address, headers=world.auth("maker"))).status_code == 200


async def test_gallery_filters_by_machine_kind_and_site_of_what_was_used(client, world):
    await new_project(client, world)
    await new_project(client, world, title="Autre")
    await attach(client, world, "maker", await booking(world, "far_printer", T0, 60))
    walk_in = await session(world, "laser", "l", 600)
    await client.post("/api/v1/projects/autre/usage", json={"session_id": walk_in}, headers=world.auth("animator"))

    async def slugs(**query) -> list[str]:
        return sorted(p["slug"] for p in (await client.get("/api/v1/projects", params=query)).json()["items"])

    assert await slugs(kind="3d_printer") == ["lampe-en-bois"]
    assert await slugs(kind="laser_cutter") == ["autre"]
    assert await slugs(site="ailleurs") == ["lampe-en-bois"]
    assert await slugs(site="atelier") == ["autre"]
    assert await slugs(kind="cnc") == []
    fragment = await client.get("/projects", params={"kind": "laser_cutter"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="project-results"' in fragment.text
    assert "Autre" in fragment.text and "Lampe en bois" not in fragment.text
