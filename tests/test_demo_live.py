"""`fabbooking serve` on the demo's data plays its machines: the simulator publishes each
device's own messages to the embedded broker, the real listener records them, pages say the
machines are simulated. Outside the demo nothing plays."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from devices.sim_plan import MachineSpec, plan_live_jobs
from fabbooking.demo import DEVICES, load_demo
from fabbooking.network.tables import DemoNetwork, Machine
from fabbooking.usage import demo_live
from fabbooking.usage.broker_url import BrokerAddress
from fabbooking.usage.embedded_broker import start_embedded_broker
from fabbooking.usage.listener import UsageListener
from fabbooking.usage.tables import DeadLetter, MachineLive, UsageSession
from tests.conftest import ROOT, run_cli
from tests.mqtt_support import free_port
from tests.test_no_double_booking import wait_until_serving
from tests.usage_helpers import eventually

pytestmark = pytest.mark.anyio
BANNER = "Données de démonstration : les machines sont simulées."


async def _demo_machines_busy_since(since: datetime) -> dict[str, str] | None:
    """Each demo machine's live state, once every one of them has a job recorded since ``since``."""
    slugs = [machine for _, machine, *_ in DEVICES]
    sessions = await UsageSession.select(UsageSession.machine.slug.as_alias("slug")).where(
        (UsageSession.started_at >= since) & UsageSession.machine.slug.is_in(slugs))
    if {row["slug"] for row in sessions} != set(slugs):
        return None
    live = await MachineLive.select(MachineLive.machine.slug.as_alias("slug"), MachineLive.state).where(
        MachineLive.machine.slug.is_in(slugs))
    return {row["slug"]: row["state"] for row in live}


@pytest.mark.slow
async def test_serve_on_the_demo_data_plays_every_demo_machine_through_the_listener(db, tmp_path):
    run_cli("demo", url=db.url)
    dead_before = await DeadLetter.count()
    web, mqtt_port = free_port(), free_port()
    started = datetime.now(UTC) - timedelta(seconds=1)
    log_file = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "fabbooking", "serve", "--port", str(web), "--mqtt-port", str(mqtt_port)],
        cwd=ROOT, env={**os.environ, "FABBOOKING_DATABASE_URL": db.url, "FABBOOKING_LISTENER": "on"},
        stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        await wait_until_serving(f"http://127.0.0.1:{web}", server)
        async with httpx.AsyncClient() as http:
            home = await http.get(f"http://127.0.0.1:{web}/", headers={"Accept-Language": "fr"})
        assert BANNER in home.text

        # the first job of every machine starts within seconds; plugs confirm it after 20 s of power
        states = await eventually(lambda: _demo_machines_busy_since(started), timeout=120, interval=1)
        assert "busy" in states.values()
        assert await DeadLetter.count() == dead_before  # every simulated message was understood
    finally:
        server.terminate()
        server.wait(timeout=30)
        log_file.seek(0)
        log = log_file.read()
        log_file.close()
    assert "Application shutdown complete" in log  # stopped with the server, nothing hanging
    assert "Traceback" not in log and "ERROR" not in log, log


async def _printers_worked_twice() -> bool:
    """Each event-reporting demo printer ended a job, went idle, and started another."""
    for slug in ("prusa-mini", "prusa-mk4-1", "prusa-mk4-2"):
        rows = await UsageSession.select(UsageSession.started_at, UsageSession.ended_at).where(
            (UsageSession.machine.slug == slug) & (UsageSession.started_at >= datetime.now(UTC) - timedelta(hours=1))
        ).order_by(UsageSession.started_at)
        if len(rows) < 2 or rows[0]["ended_at"] is None or rows[1]["started_at"] < rows[0]["ended_at"]:
            return False
    return True


async def test_the_demo_keeps_going_machines_go_idle_then_busy_again(db, monkeypatch):
    monkeypatch.delenv("FABBOOKING_DEMO_LIVE", raising=False)
    monkeypatch.setattr(demo_live, "PACE", 40.0)  # jobs of 5-12 s instead of minutes
    await load_demo()
    port = free_port()
    broker = await start_embedded_broker(port)
    listener = UsageListener(BrokerAddress("127.0.0.1", port), client_id="demo-test-listener", mqtt5=False)
    listening = asyncio.ensure_future(listener.run())
    player = asyncio.ensure_future(demo_live.play_demo_machines(listener.broker, True, ready=listener.connected))
    try:
        await eventually(_printers_worked_twice, timeout=120, interval=0.5)
        assert not player.done()
    finally:
        for task in (player, listening):
            task.cancel()
        await asyncio.gather(player, listening, return_exceptions=True)
        await broker.shutdown()


async def test_nothing_plays_outside_the_demo(db, monkeypatch):
    monkeypatch.delenv("FABBOOKING_DEMO_LIVE", raising=False)
    await load_demo()
    await DemoNetwork.delete(force=True)  # the same machines, but not the demo's database
    broker = BrokerAddress("127.0.0.1", free_port())
    # it returns at once instead of playing until the server stops
    await asyncio.wait_for(demo_live.play_demo_machines(broker, embedded_broker=True), timeout=10)
    assert not demo_live.banner_shown()


async def test_the_demo_never_plays_against_a_real_broker_unless_forced(db, monkeypatch):
    monkeypatch.delenv("FABBOOKING_DEMO_LIVE", raising=False)
    await DemoNetwork.insert(DemoNetwork(loaded_at=datetime.now(UTC)))
    assert await demo_live.decide(embedded_broker=True)
    assert not await demo_live.decide(embedded_broker=False)
    monkeypatch.setenv("FABBOOKING_DEMO_LIVE", "on")
    assert await demo_live.decide(embedded_broker=False)
    monkeypatch.setenv("FABBOOKING_DEMO_LIVE", "off")
    assert not await demo_live.decide(embedded_broker=True)
    await asyncio.wait_for(demo_live.play_demo_machines(BrokerAddress("127.0.0.1", free_port()), True), timeout=10)


async def test_a_broker_gone_away_is_retried_and_the_player_stops_on_demand(db, monkeypatch, caplog):
    monkeypatch.setenv("FABBOOKING_DEMO_LIVE", "on")
    await load_demo()
    nobody = BrokerAddress("127.0.0.1", free_port())
    caplog.set_level(logging.WARNING, logger="fabbooking.usage.demo")
    player = asyncio.ensure_future(demo_live.play_demo_machines(nobody, embedded_broker=True))

    async def said_it_will_retry():
        return [r for r in caplog.records if "trying again" in r.getMessage()]

    await eventually(said_it_will_retry, timeout=30, interval=0.1)
    assert not player.done()  # still there, waiting for the broker
    assert demo_live.banner_shown()
    player.cancel()
    await asyncio.wait_for(asyncio.gather(player, return_exceptions=True), timeout=10)
    assert not demo_live.banner_shown()


def test_a_wrong_demo_live_setting_stops_serve_with_the_fix(tmp_path):
    result = run_cli("serve", "--port", str(free_port()), url=f"sqlite:///{tmp_path}/db.sqlite3", check=False,
                     extra_env={"FABBOOKING_DEMO_LIVE": "yes"}, timeout=60)
    assert result.returncode == 2
    assert "FABBOOKING_DEMO_LIVE='yes'" in result.stderr and "on" in result.stderr and "off" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("spec", [MachineSpec("prusa-mini", "contract"), MachineSpec("laser", "tasmota", "plug")],
                         ids=["printer", "laser"])
def test_live_rounds_are_jobs_of_a_few_minutes_every_few_minutes(spec):
    jobs = plan_live_jobs(spec, 3, "papifab:1", soon=True)
    assert jobs[0].start_s <= 15  # a visitor who just started the server sees a machine start
    for job, following in zip(jobs, jobs[1:], strict=False):
        assert 30 <= job.duration_s <= 8 * 60
        assert 2 * 60 <= following.start_s - job.end_s <= 6 * 60
    assert plan_live_jobs(spec, 3, "papifab:1", soon=True) == jobs  # one seed, one round
    assert plan_live_jobs(spec, 3, "papifab:2")[0].start_s >= 60


async def test_machines_of_the_demo_are_found_as_the_demo_set_them_up(db):
    await load_demo()
    assert [(d.machine, d.format) for d in await demo_live.demo_devices()] == [(m, f) for _, m, f, *_ in DEVICES]
    prusa = await Machine.select(Machine.id).where(Machine.slug == "prusa-mk4-1").first()
    from fabbooking.usage import services

    await services.set_telemetry(None, prusa["id"], {"format": "klipper", "device_topic": "atelier-mk4"})
    assert "prusa-mk4-1" not in [d.machine for d in await demo_live.demo_devices()]
