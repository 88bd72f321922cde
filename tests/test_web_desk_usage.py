"""The desk shows what the machines reported: maintenance due and walk-in use."""

from datetime import timedelta

import pytest

from fabbooking.usage.recording import Incoming, record_batch
from fabbooking.usage.tables import MaintenancePlan
from tests.conftest import in_the_paris_afternoon_if
from tests.usage_helpers import contract_event, now, topic, wire_gateway
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio


async def test_desk_lists_due_maintenance_and_walk_ins_and_marks_maintenance_done(client, world):
    with in_the_paris_afternoon_if(too_late=24, too_early=2):  # its walk-in started today in Paris
        await _desk_lists_due_maintenance_and_walk_ins(client, world)


async def _desk_lists_due_maintenance_and_walk_ins(client, world):
    await wire_gateway(world.ids["atelier"], "gw", world.ids["printer"])
    await MaintenancePlan.insert(MaintenancePlan(machine=world.ids["printer"], task="Nettoyer la buse",
                                                 every_hours=0.5, done_at=now() - timedelta(hours=2)))
    await record_batch([Incoming(topic("atelier", "gw", "printer"),
                                 contract_event("job_finished", "walk", now(), duration_s=3600,
                                                file="cadeau.gcode"), now())], now())
    await browser_login(client, "animator")
    page = (await client.get("/desk/atelier")).text
    assert "Entretien à faire" in page and "Nettoyer la buse" in page
    assert "Utilisations sans réservation" in page and "cadeau.gcode" in page
    plan_id = (await MaintenancePlan.select(MaintenancePlan.id).first())["id"]
    done = await submit(client, f"/desk/atelier/maintenance/{plan_id}/done", {}, page="/desk/atelier")
    assert done.status_code == 303
    assert "Entretien à faire" not in (await client.get("/desk/atelier")).text


async def test_another_sites_animator_cannot_mark_maintenance_done(client, world):
    await MaintenancePlan.insert(MaintenancePlan(machine=world.ids["printer"], task="x", every_hours=1))
    plan_id = (await MaintenancePlan.select(MaintenancePlan.id).first())["id"]
    await browser_login(client, "stranger")
    refused = await submit(client, f"/desk/atelier/maintenance/{plan_id}/done", {}, page="/desk/ailleurs")
    assert refused.status_code == 403
