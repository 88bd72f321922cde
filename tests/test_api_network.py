"""Sites, machines, opening hours, closures and trainings: who may read and change them."""

from __future__ import annotations

import pytest

from fabbooking.network.tables import Machine, Site

pytestmark = pytest.mark.anyio


async def test_anyone_lists_sites_and_machines(client, world):
    sites = await client.get("/api/v1/sites")
    assert {s["slug"] for s in sites.json()} == {"atelier", "ailleurs"}
    atelier = await client.get("/api/v1/sites/atelier")
    assert atelier.json()["timezone"] == "Europe/Paris"
    assert len(atelier.json()["opening_hours"]) == 7
    machines = await client.get("/api/v1/machines", params={"site": "atelier", "kind": "laser_cutter"})
    assert [m["slug"] for m in machines.json()] == ["laser"]
    machine = await client.get(f"/api/v1/machines/{world.ids['printer']}")
    assert machine.json()["required_training_name"] == "Impression 3D – initiation"
    assert machine.json()["rules"]["slot_minutes"] == 15


async def test_machine_list_shows_each_machines_own_rules(client, world):
    await Site.update({Site.max_minutes: 90}).where(Site.id == world.ids["ailleurs"])
    await Machine.update({Machine.max_minutes: 30}).where(Machine.id == world.ids["laser"])
    machines = {m["slug"]: m for m in (await client.get("/api/v1/machines")).json()}
    assert machines["printer"]["rules"]["max_minutes"] == 240  # atelier's default
    assert machines["laser"]["rules"]["max_minutes"] == 30  # its own override
    assert machines["far-printer"]["rules"]["max_minutes"] == 90  # ailleurs' default


async def test_unknown_site_and_machine_are_404(client, world):
    assert (await client.get("/api/v1/sites/nowhere")).status_code == 404
    assert (await client.get("/api/v1/machines?site=nowhere")).status_code == 404
    assert (await client.get("/api/v1/machines/424242")).status_code == 404
    assert (await client.get("/api/v1/machines?kind=teleporter")).status_code == 422


async def test_only_admins_create_sites(client, world):
    body = {"slug": "papifab-bellevue", "name": "PAPIFab de Bellevue", "kind": "papifab"}
    refused = await client.post("/api/v1/sites", json=body, headers=world.auth("animator"))
    assert refused.status_code == 403
    created = await client.post("/api/v1/sites", json=body, headers=world.auth("admin"))
    assert created.status_code == 201 and created.json()["timezone"] == "Europe/Paris"
    again = await client.post("/api/v1/sites", json=body, headers=world.auth("admin"))
    assert again.status_code == 409 and again.json()["code"] == "slug_taken"


async def test_bad_timezone_is_refused(client, world):
    response = await client.patch("/api/v1/sites/atelier", json={"timezone": "Mars/Olympus"},
                                  headers=world.auth("animator"))
    assert response.status_code == 422 and response.json()["code"] == "invalid_timezone"


async def test_animator_changes_their_own_site_only(client, world):
    mine = await client.patch("/api/v1/sites/atelier", json={"max_future_bookings": 5},
                              headers=world.auth("animator"))
    assert mine.status_code == 200 and mine.json()["rules"]["max_future_bookings"] == 5
    other = await client.patch("/api/v1/sites/ailleurs", json={"name": "Pris"},
                               headers=world.auth("animator"))
    assert other.status_code == 403 and other.json()["code"] == "not_staff_of_site"
    assert (await Site.select(Site.name).where(Site.slug == "ailleurs").first())["name"] == "Ailleurs"


async def test_opening_hours_are_replaced_and_validated(client, world):
    hours = [{"weekday": 2, "opens": "10:00:00", "closes": "12:00:00"},
             {"weekday": 2, "opens": "14:00:00", "closes": "18:00:00"}]
    response = await client.put("/api/v1/sites/atelier/opening-hours", json=hours,
                                headers=world.auth("animator"))
    assert response.status_code == 200 and len(response.json()) == 2
    bad = await client.put("/api/v1/sites/atelier/opening-hours",
                           json=[{"weekday": 1, "opens": "18:00:00", "closes": "10:00:00"}],
                           headers=world.auth("animator"))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_opening_period"
    site = (await client.get("/api/v1/sites/atelier")).json()
    assert len(site["opening_hours"]) == 2  # the refused change left the hours as they were


async def test_closures_are_added_and_removed_by_the_site_team(client, world):
    body = {"start_date": "2030-08-01", "end_date": "2030-08-15", "reason": "congés d'été"}
    added = await client.post("/api/v1/sites/atelier/closures", json=body, headers=world.auth("animator"))
    assert added.status_code == 201
    refused = await client.post("/api/v1/sites/atelier/closures", json=body, headers=world.auth("stranger"))
    assert refused.status_code == 403
    backwards = await client.post("/api/v1/sites/atelier/closures",
                                  json={"start_date": "2030-08-15", "end_date": "2030-08-01"},
                                  headers=world.auth("animator"))
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_closure"
    closure_id = added.json()["id"]
    assert (await client.delete(f"/api/v1/sites/ailleurs/closures/{closure_id}",
                                headers=world.auth("stranger"))).status_code == 404
    assert (await client.delete(f"/api/v1/sites/atelier/closures/{closure_id}",
                                headers=world.auth("animator"))).status_code == 204


async def test_animator_adds_a_machine_to_their_site_and_sets_it_in_maintenance(client, world):
    body = {"site": "atelier", "slug": "cameo", "name": "Découpeuse vinyle", "kind": "vinyl_cutter",
            "rules": {"max_minutes": 60}}
    created = await client.post("/api/v1/machines", json=body, headers=world.auth("animator"))
    assert created.status_code == 201, created.text
    assert created.json()["rules"]["max_minutes"] == 60
    assert created.json()["rule_overrides"] == {"max_minutes": 60}
    machine_id = created.json()["id"]
    changed = await client.patch(f"/api/v1/machines/{machine_id}", json={"status": "maintenance"},
                                 headers=world.auth("animator"))
    assert changed.json()["status"] == "maintenance"
    reset = await client.patch(f"/api/v1/machines/{machine_id}", json={"rules": {"max_minutes": None}},
                               headers=world.auth("animator"))
    assert reset.json()["rules"]["max_minutes"] == 240 and reset.json()["rule_overrides"] == {}


async def test_animator_cannot_touch_another_sites_machines(client, world):
    response = await client.patch(f"/api/v1/machines/{world.ids['far_printer']}",
                                  json={"status": "out_of_order"}, headers=world.auth("animator"))
    assert response.status_code == 403
    created = await client.post("/api/v1/machines", headers=world.auth("animator"),
                                json={"site": "ailleurs", "slug": "x", "name": "X"})
    assert created.status_code == 403
    machine = await Machine.select(Machine.status).where(Machine.id == world.ids["far_printer"]).first()
    assert machine["status"] == "available"


async def test_machine_with_unknown_training_is_refused(client, world):
    response = await client.post("/api/v1/machines", headers=world.auth("animator"),
                                 json={"site": "atelier", "slug": "x", "name": "X", "required_training_id": 999})
    assert response.status_code == 404
    assert await Machine.count().where(Machine.slug == "x") == 0


async def test_trainings_are_listed_and_created_by_staff(client, world):
    listed = await client.get("/api/v1/trainings")
    assert {t["slug"] for t in listed.json()} == {"impression-3d", "laser"}
    body = {"slug": "brodeuse", "name": "Brodeuse – initiation", "unlocks_kinds": ["embroidery"]}
    assert (await client.post("/api/v1/trainings", json=body, headers=world.auth("maker"))).status_code == 403
    created = await client.post("/api/v1/trainings", json=body, headers=world.auth("animator"))
    assert created.status_code == 201 and created.json()["unlocks_kinds"] == ["embroidery"]


async def test_only_staff_grant_qualifications(client, world):
    body = {"maker_id": world.ids["newbie"], "training_id": world.ids["laser_training"]}
    assert (await client.post("/api/v1/qualifications", json=body, headers=world.auth("maker"))).status_code == 403
    past = await client.post("/api/v1/qualifications", headers=world.auth("animator"),
                             json={**body, "expires_on": "2001-01-01"})
    assert past.status_code == 422
    granted = await client.post("/api/v1/qualifications", json=body, headers=world.auth("animator"))
    assert granted.status_code == 201 and granted.json()["training_slug"] == "laser"


async def test_openapi_documents_every_endpoint_with_its_errors(client, world):
    schema = (await client.get("/schema/openapi.json")).json()
    booking = schema["paths"]["/api/v1/bookings"]["post"]["responses"]
    assert {"201", "401", "403", "409", "422"} <= set(booking)
    assert booking["409"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "400" not in operation["responses"], f"{method} {path} documents Litestar's 400"


async def test_out_of_range_rules_are_refused_not_stored(client, world):
    response = await client.patch("/api/v1/sites/atelier", json={"max_minutes": 40000}, headers=world.auth("admin"))
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"
    machine = await client.patch(f"/api/v1/machines/{world.ids['printer']}", json={"rules": {"min_minutes": 0}},
                                 headers=world.auth("admin"))
    assert machine.status_code == 422
