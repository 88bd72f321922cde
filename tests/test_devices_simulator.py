"""The simulator against the real chain: simulator → Mosquitto → listener → database, for
every device format; plus its plan (deterministic, never ahead of the clock) and its CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from devices.simulator import JobScript, MachineSpec, Simulation, main
from fabbooking.bookings.tables import Booking
from fabbooking.usage.tables import (
    DeadLetter,
    Gateway,
    MachineLive,
    ReceivedMessage,
    UsageSession,
)
from tests.conftest import make_account, make_machine, make_site
from tests.usage_helpers import (
    eventually,
    listening,  # noqa: F401 - the listener fixture
    wire_device,
    wire_gateway,
)

pytestmark = pytest.mark.anyio
SITE, GATEWAY = "papifab-bellevue", "gw-bellevue"
PRINTS = [JobScript("completed"), JobScript("failed"), JobScript("cancelled", "after")]
CUTS = [JobScript("completed"), JobScript("interrupted", "during"), JobScript("completed")]
CASES = {
    "contract": (MachineSpec("prusa-mini", "contract"),
                 [JobScript("completed"), JobScript("failed", "during"), JobScript("cancelled")], 3600),
    "tasmota": (MachineSpec("laser", "tasmota", "laser-plug"), CUTS, 3600),
    "shelly": (MachineSpec("trotec", "shelly", "shellyplusplugs-trotec", cutting_w=1400), CUTS, 3600),
    "octoprint": (MachineSpec("mk4", "octoprint"), PRINTS, 3600),
    "klipper": (MachineSpec("voron", "klipper"), PRINTS, 3600),
}


async def _live_state(machine_id: int) -> str | None:
    row = await MachineLive.select(MachineLive.state).where(MachineLive.machine == machine_id).first()
    return row["state"] if row else None


async def _state_is(machine_id: int, *states: str):
    return await _live_state(machine_id) in states


async def _ended_sessions(machine_id: int, n: int):
    rows = await UsageSession.select().where((UsageSession.machine == machine_id)
                                             & (UsageSession.outcome != "running")).order_by(UsageSession.started_at)
    return rows if len(rows) >= n else None


@pytest.mark.parametrize("fmt", list(CASES))
async def test_simulated_jobs_become_sessions_linked_to_the_booking(db, mosquitto, listening, fmt):
    spec, scripts, speed = CASES[fmt]
    site = await make_site(SITE)
    machine = await make_machine(site, spec.name, kind="3d_printer" if spec.machine_kind == "printer" else "laser_cutter")
    maker = await make_account("maiwenn")
    if fmt == "contract":
        await wire_gateway(site, GATEWAY, machine)
    else:
        settings = spec.telemetry(speed)
        await wire_device(machine, fmt, settings.pop("device_topic"),
                          **{k: v for k, v in settings.items() if k != "format"})
        await listening.refresh_subscriptions()
    sim = Simulation("127.0.0.1", mosquitto.port, [spec], site=SITE, gateway=GATEWAY, seed=7, speed=speed)
    plan = sim.plan(len(scripts), {spec.name: scripts})
    assert plan.virtual_start + timedelta(seconds=plan.span_s) <= datetime.now(UTC) + timedelta(minutes=1)
    booking = (await Booking.insert(Booking(
        machine=machine, maker=maker, booked_by=maker, start_at=plan.virtual_start - timedelta(minutes=1),
        end_at=datetime.now(UTC) + timedelta(hours=1))).returning(Booking.id))[0]["id"]
    try:
        await asyncio.to_thread(sim.connect)
        # the retained "online"/"ready" message reaching the database proves the subscription is live
        if fmt == "contract":
            await eventually(lambda: Gateway.exists().where((Gateway.ident == GATEWAY) & (Gateway.state == "ready")))
        else:
            await eventually(lambda: _state_is(machine, "idle"))
        run = await asyncio.to_thread(sim.play, plan)
        expected = run.for_machine(spec.name)
        assert [j.outcome for j in expected] == [{"completed": "completed", "failed": "failed", "cancelled": "cancelled",
                                                  "interrupted": "interrupted"}[s.outcome] for s in scripts]
        sessions = await eventually(lambda: _ended_sessions(machine, len(expected)), timeout=30)
        assert len(sessions) == len(expected)
        for session, job in zip(sessions, expected, strict=True):
            assert session["outcome"] == job.outcome, (session, job)
            assert session["booking"] == booking and not session["walk_in"] and not session["overrun"]
            assert abs((session["started_at"] - job.started_at).total_seconds()) < 2
            if fmt in ("tasmota", "shelly"):
                assert session["started_at"] == job.started_at and session["ended_at"] == job.ended_at
                assert session["energy_wh"] == pytest.approx(job.energy_wh, abs=0.01) and job.energy_wh > 0
                assert session["job_key"] == job.key
            else:
                assert session["file_name"] == job.file
                assert session["duration_s"] == pytest.approx(job.duration_s)
            if fmt in ("contract", "octoprint"):  # they stamp simulated time: exact times, real lengths
                assert session["job_key"] == job.key
                assert (session["started_at"], session["ended_at"]) == (job.started_at, job.ended_at)
        await _check_format_details(fmt, run, sessions)
        assert await DeadLetter.count() == 0
        # an offline spell now: the machine shows offline, then idle when it is back
        await asyncio.to_thread(sim.go_offline, spec.name)
        await eventually(lambda: _state_is(machine, "offline"))
        await asyncio.to_thread(sim.come_back, spec.name)
        await eventually(lambda: _state_is(machine, "idle"))
    finally:
        await asyncio.to_thread(sim.close)


async def _check_format_details(fmt: str, run, sessions) -> None:
    if fmt == "contract":
        # the gateway was cut off during job 2: its ending went out later, replayed, once
        replayed = [json.loads(m.payload) for m in run.messages if b'"replay":true' in m.payload]
        assert [p["event"] for p in replayed] == ["job_failed"]
        assert run.jobs[1].replayed and not run.jobs[0].replayed
        assert await ReceivedMessage.count().where(ReceivedMessage.key == f"gw:{GATEWAY}:{replayed[0]['msg_id']}") == 1
        assert sessions[0]["material_kind"] and sessions[0]["material_grams"] > 0
        statuses = [m.payload for m in run.messages if m.topic.endswith("/status")]
        assert statuses == [b'{"state":"lost"}', b'{"state":"ready"}']
    elif fmt == "octoprint":
        cancel = [m.topic.rsplit("/", 1)[-1] for m in run.messages if b"cancelled" in m.payload or
                  m.topic.endswith("PrintCancelled")]
        assert cancel == ["PrintFailed", "PrintCancelled"]  # a cancel sends both; one session
    elif fmt == "klipper":
        partial = [json.loads(m.payload)["status"] for m in run.messages if m.topic.endswith("/klipper/status")]
        assert any("print_stats" in s and "state" not in s["print_stats"] for s in partial)
        assert sessions[0]["material_length_mm"] > 0
    elif fmt == "tasmota":
        sensor = json.loads(next(m.payload for m in run.messages if m.topic.endswith("/SENSOR")))
        assert "T" in sensor["Time"] and "+" not in sensor["Time"] and not sensor["Time"].endswith("Z")
        totals = [json.loads(m.payload)["ENERGY"]["Total"] for m in run.messages if m.topic.endswith("/SENSOR")]
        assert totals == sorted(totals) and totals[-1] > totals[0]  # kWh counter only rises
    elif fmt == "shelly":
        totals = [json.loads(m.payload)["params"]["switch:0"]["aenergy"]["total"]
                  for m in run.messages if m.topic.endswith("/events/rpc")]
        assert totals == sorted(totals) and totals[-1] > totals[0]  # Wh counter only rises
    if fmt in ("tasmota", "shelly"):
        offline = [m for m in run.messages if m.topic.endswith(("/LWT", "/online")) and m.payload in (b"Offline", b"false")]
        assert len(offline) == 1 and offline[0].retain  # the spell that interrupted job 2


def test_the_same_seed_plans_the_same_jobs():
    machines = [MachineSpec("prusa-mini", "contract"), MachineSpec("laser", "tasmota", "laser-plug")]
    first = Simulation(machines=machines, seed=3).plan(20)
    again = Simulation(machines=machines, seed=3).plan(20)
    other = Simulation(machines=machines, seed=4).plan(20)
    assert first.jobs == again.jobs and first.steps == again.steps and first.jobs != other.jobs
    printer = first.jobs["prusa-mini"]
    outcomes = [j.outcome for j in Simulation(machines=machines[:1], seed=5).plan(200).jobs["prusa-mini"]]
    assert 0.04 < outcomes.count("failed") / 200 < 0.18 and "cancelled" in outcomes
    assert all(20 * 60 <= j.duration_s <= 5 * 3600 for j in printer if j.outcome == "completed")
    assert all(4 * 60 <= j.duration_s <= 40 * 60 for j in first.jobs["laser"])
    # the simulated clock ends now: nothing is stamped in the future, even at speed 1
    live = Simulation(machines=machines, seed=3, speed=1).plan(2)
    assert live.virtual_start >= datetime.now(UTC) - timedelta(seconds=5)


def test_bad_arguments_get_clear_errors(capsys):
    for argv, message in [
        (["--machine", "laser:bogus"], "format 'bogus' is not one of"),
        (["--machine", "laser"], "write NAME:FORMAT"),
        (["--machine", "Laser:tasmota"], "lowercase"),
        (["--machine", "a:contract:topic"], "no device topic"),
        (["--machine", "a:contract", "--speed", "0"], "must be positive"),
        (["--machine", "a:contract", "--jobs", "x"], "is not a number"),
        (["--machine", "a:contract", "--broker", "http://x"], "mqtt://HOST"),
        (["--machine", "a:contract", "--site", "Bad Site"], "site id"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err, argv


def test_an_unreachable_broker_is_reported(capsys):
    from tests.mqtt_support import free_port

    assert main(["--machine", "a:contract", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--quiet"]) == 1
    assert "cannot reach the MQTT broker" in capsys.readouterr().err
