"""Machine usage through the API: live status, sessions, telemetry settings, gateways,
dead letters and maintenance plans — each with who may see or change it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.usage.recording import Incoming, record_batch
from fabbooking.usage.tables import MachineLive, MaintenancePlan, UsageSession
from tests.conftest import make_machine, make_site
from tests.usage_helpers import (
    Publisher,
    contract_event,
    eventually,
    listening,  # noqa: F401 - the listener fixture
    now,
    topic,
    wire_device,
    wire_gateway,
)

pytestmark = pytest.mark.anyio


async def record(*messages):
    await record_batch([Incoming(t, p, now()) for t, p in messages], now())


@pytest.fixture
async def wired(world):
    await wire_gateway(world.ids["atelier"], "gw-atelier", world.ids["printer"])
    return world


def window():
    return {"start": (now() - timedelta(days=1)).isoformat(), "end": (now() + timedelta(days=1)).isoformat()}


async def test_status_shows_live_state_and_counters(client, wired):
    machine = wired.ids["printer"]
    before = (await client.get(f"/api/v1/machines/{machine}/status")).json()
    assert before["reports_usage"] is True and before["state"] == "offline"
    await record((topic("atelier", "gw-atelier", "printer"), contract_event("job_started", "j1", now() - timedelta(minutes=3))))
    busy = (await client.get(f"/api/v1/machines/{machine}/status")).json()
    assert busy["state"] == "busy" and busy["running_job"]["job_key"] == "j1"
    await record((topic("atelier", "gw-atelier", "printer"),
                  contract_event("job_finished", "j1", now(), duration_s=180)))
    idle = (await client.get(f"/api/v1/machines/{machine}/status")).json()
    assert idle["state"] == "idle" and idle["jobs"] == 1 and idle["run_hours"] == 0.05
    unwired = (await client.get(f"/api/v1/machines/{wired.ids['laser']}/status")).json()
    assert unwired["reports_usage"] is False and unwired["state"] == "unknown"


async def test_usage_is_seen_by_the_site_team_and_by_the_maker_for_their_own(client, wired):
    machine = wired.ids["printer"]
    start = now() - timedelta(hours=2)
    await Booking.insert(Booking(machine=machine, maker=wired.ids["maker"], booked_by=wired.ids["maker"],
                                 start_at=start, end_at=start + timedelta(hours=1)))
    await record((topic("atelier", "gw-atelier", "printer"),
                  contract_event("job_finished", "mine", start + timedelta(minutes=50), duration_s=600)))
    await record((topic("atelier", "gw-atelier", "printer"),
                  contract_event("job_finished", "walkin", now(), duration_s=60)))
    team = (await client.get(f"/api/v1/machines/{machine}/usage", params=window(), headers=wired.auth("animator"))).json()
    assert {s["job_key"]: s["walk_in"] for s in team} == {"mine": False, "walkin": True}
    assert next(s for s in team if s["job_key"] == "mine")["maker_username"] == "maker"
    own = (await client.get(f"/api/v1/machines/{machine}/usage", params=window(), headers=wired.auth("maker"))).json()
    assert [s["job_key"] for s in own] == ["mine"]
    other = (await client.get(f"/api/v1/machines/{machine}/usage", params=window(), headers=wired.auth("newbie"))).json()
    assert other == []
    assert (await client.get(f"/api/v1/machines/{machine}/usage", params=window())).status_code == 401
    site = await client.get("/api/v1/usage", params={**window(), "site": "atelier"}, headers=wired.auth("stranger"))
    assert site.status_code == 403
    network = await client.get("/api/v1/usage", params=window(), headers=wired.auth("admin"))
    assert len(network.json()) == 2


async def test_telemetry_is_set_by_the_site_team_with_clear_refusals(client, wired):
    laser = wired.ids["laser"]
    body = {"format": "tasmota", "device_topic": "laser-plug", "start_w": 200, "idle_w": 60}
    assert (await client.put(f"/api/v1/machines/{laser}/telemetry", json=body, headers=wired.auth("stranger"))).status_code == 403
    saved = await client.put(f"/api/v1/machines/{laser}/telemetry", json=body, headers=wired.auth("animator"))
    assert saved.status_code == 200 and saved.json()["device_topic"] == "laser-plug"
    bad = await client.put(f"/api/v1/machines/{laser}/telemetry", json={"idle_w": 500}, headers=wired.auth("animator"))
    assert bad.status_code == 422 and "seuil" in bad.json()["detail"]
    no_topic = await client.put(f"/api/v1/machines/{wired.ids['far_printer']}/telemetry", json={"format": "shelly"},
                                headers=wired.auth("admin"))
    assert no_topic.status_code == 422
    foreign = await client.put(f"/api/v1/machines/{wired.ids['far_printer']}/telemetry",
                               json={"format": "contract", "gateway": "gw-atelier"}, headers=wired.auth("admin"))
    assert foreign.status_code == 422 and "autre lieu" in foreign.json()["detail"]
    assert (await client.get(f"/api/v1/machines/{laser}/telemetry", headers=wired.auth("animator"))
            ).json()["start_w"] == 200


async def test_how_a_machine_reports_and_its_maintenance_are_for_its_sites_team_only(client, wired):
    laser = wired.ids["laser"]
    await client.put(f"/api/v1/machines/{laser}/telemetry", headers=wired.auth("animator"),
                     json={"format": "contract", "gateway": "gw-atelier", "device_topic": "laser-plug"})
    await client.post(f"/api/v1/machines/{laser}/maintenance-plans", headers=wired.auth("animator"),
                      json={"task": "Nettoyer la lentille", "every_hours": 20})
    for address in (f"/api/v1/machines/{laser}/telemetry", f"/api/v1/machines/{laser}/maintenance-plans"):
        anonymous = await client.get(address)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
        for who in ("maker", "stranger"):  # a maker; an animator of another site
            refused = await client.get(address, headers=wired.auth(who))
            assert refused.status_code == 403, (address, who)
            assert "gw-atelier" not in refused.text and "lentille" not in refused.text
        for who in ("animator", "admin"):
            assert (await client.get(address, headers=wired.auth(who))).status_code == 200, (address, who)
    shown = await client.get(f"/api/v1/machines/{laser}/telemetry", headers=wired.auth("animator"))
    assert shown.json()["gateway"] == "gw-atelier"


async def test_gateways_are_registered_by_the_site_team_and_the_password_shown_once(client, wired):
    created = await client.post("/api/v1/gateways", json={"site": "atelier", "ident": "gw-2"}, headers=wired.auth("animator"))
    assert created.status_code == 201 and len(created.json()["mqtt_password"]) >= 16
    listed = await client.get("/api/v1/gateways", headers=wired.auth("animator"))
    assert {g["ident"] for g in listed.json()} == {"gw-atelier", "gw-2"}
    assert all(g["mqtt_password"] is None for g in listed.json())
    assert (await client.get("/api/v1/gateways", headers=wired.auth("stranger"))).json() == []
    taken = await client.post("/api/v1/gateways", json={"site": "atelier", "ident": "gw-2"}, headers=wired.auth("admin"))
    assert taken.status_code == 409
    other_site = await client.post("/api/v1/gateways", json={"site": "ailleurs", "ident": "gw-3"}, headers=wired.auth("animator"))
    assert other_site.status_code == 403
    assert (await client.get("/api/v1/gateways", headers=wired.auth("maker"))).status_code == 403


async def test_dead_letters_are_visible_to_admins_only(client, wired):
    await record(("fablab/v1/atelier/gw-atelier/printer/event", b"{oops"))
    listed = await client.get("/api/v1/dead-letters", headers=wired.auth("admin"))
    assert listed.json()["total"] == 1 and "not JSON" in listed.json()["latest"][0]["reason"]
    assert (await client.get("/api/v1/dead-letters", headers=wired.auth("animator"))).status_code == 403


async def test_maintenance_plan_becomes_due_after_enough_run_hours(client, wired):
    machine = wired.ids["printer"]
    plan = await client.post(f"/api/v1/machines/{machine}/maintenance-plans", headers=wired.auth("animator"),
                             json={"task": "Nettoyer la buse", "every_hours": 1})
    assert plan.status_code == 201 and plan.json()["due"] is False
    await MaintenancePlan.update({MaintenancePlan.done_at: now() - timedelta(hours=3)}).where(
        MaintenancePlan.id == plan.json()["id"])
    await record((topic("atelier", "gw-atelier", "printer"),
                  contract_event("job_finished", "long", now(), duration_s=3600, started_at=now() - timedelta(hours=1))))
    due = (await client.get(f"/api/v1/machines/{machine}/maintenance-plans", headers=wired.auth("animator"))).json()[0]
    assert due["due"] is True and due["hours_since"] == 1.0
    done = await client.post(f"/api/v1/maintenance-plans/{due['id']}/done", headers=wired.auth("animator"))
    assert done.json()["due"] is False
    refused = await client.post(f"/api/v1/maintenance-plans/{due['id']}/done", headers=wired.auth("stranger"))
    assert refused.status_code == 403


# --- device topics: one device each, never a wildcard ------------------------------------------

@pytest.mark.parametrize("device_topic", ["lab/#", "#", "a+b", "tele/+", "plug\nnext", "$SYS/broker",
                                          "/plug", "plug/", "a//b", "x" * 201])
async def test_a_device_topic_that_is_not_one_device_is_refused_in_french_and_english(client, wired, device_topic):
    laser = wired.ids["laser"]
    url = f"/api/v1/machines/{laser}/telemetry"
    body = {"format": "tasmota", "device_topic": device_topic}
    french = await client.put(url, json=body, headers=wired.auth("animator"))
    assert french.status_code == 422, french.text
    if len(device_topic) <= 200:  # longer: the schema's own limit answers first
        assert french.json()["code"] == "invalid_device_topic"
        assert "sans joker MQTT + ni #" in french.json()["detail"]
        english = await client.put(url, json=body, params={"lang": "en"}, headers=wired.auth("animator"))
        assert english.json()["code"] == "invalid_device_topic"
        assert "no MQTT wildcard + or #" in english.json()["detail"]
    assert (await client.get(url, headers=wired.auth("animator"))).json() is None  # nothing was saved


async def test_a_good_device_topic_is_kept_exactly(client, wired):
    laser = wired.ids["laser"]
    for device_topic in ("tasmota_laser", "atelier/shellyplusplugs-e86bea1b2c3d", "octoPrint"):
        saved = await client.put(f"/api/v1/machines/{laser}/telemetry", json={"format": "shelly", "device_topic": device_topic},
                                 headers=wired.auth("animator"))
        assert saved.status_code == 200 and saved.json()["device_topic"] == device_topic


async def test_a_bad_device_topic_already_in_the_database_stops_no_other_machine(db, mosquitto, listening, caplog):
    """Written before topics were checked, or straight into the database: the listener skips
    it (logged once) and every other machine, device or gateway, is still recorded."""
    site = await make_site("bellevue")
    laser = await make_machine(site, "laser", kind="laser_cutter")
    await wire_device(laser, "tasmota", "laser-plug", start_w=50, idle_w=20, start_after_s=0, stop_after_s=0)
    for slug, fmt, bad in [("cnc", "tasmota", "lab/#"), ("mk4", "octoprint", "a+b"), ("plug", "shelly", "x\x01y")]:
        await wire_device(await make_machine(site, slug), fmt, bad)
    printer = await make_machine(site, "prusa")
    await wire_gateway(site, "gw-1", printer)
    await listening.refresh_subscriptions()
    await listening.refresh_subscriptions()  # the periodic refresh: no second log line
    publisher = Publisher(mosquitto.port)
    publisher.send("tele/laser-plug/LWT", b"Online", retain=True)  # retained: arrives once subscribed
    await eventually(lambda: MachineLive.exists().where((MachineLive.machine == laser) & (MachineLive.state == "idle")))
    publisher.send("tele/laser-plug/SENSOR", json.dumps({"Time": "", "ENERGY": {"Power": 900, "Total": 1.2}}).encode())
    publisher.send(topic("bellevue", "gw-1", "prusa"), contract_event("job_started", "p-1", now()))
    await eventually(lambda: UsageSession.count().where(UsageSession.machine == laser))
    await eventually(lambda: UsageSession.count().where(UsageSession.job_key == "p-1"))
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 3 and any("lab/#" in line for line in skipped), skipped
    assert listening._connection == 1, "Mosquitto dropped the listener"
    publisher.close()
