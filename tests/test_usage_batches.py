"""Recording a batch as a set: what a batch of many messages must do exactly as the same
messages one by one would, and the few statements it may cost whatever its size."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.usage.recording import Incoming, record_batch
from fabbooking.usage.tables import DeadLetter, Gateway, MachineLive, ReceivedMessage, Telemetry, UsageSession
from tests.conftest import make_account, make_machine, make_site
from tests.usage_helpers import contract_event, now, topic, wire_device, wire_gateway

pytestmark = pytest.mark.anyio

# what a batch may cost, whatever its size: claim the keys; read live states, sessions,
# running jobs, bookings; write new and changed live states, new and changed sessions,
# gateways; give back keys; dead letters
BATCH_BUDGET = 12


async def record(*messages: tuple[str, bytes]) -> None:
    await record_batch([Incoming(t, p, now()) for t, p in messages], now())


async def sessions() -> dict[str, dict]:
    return {r["job_key"]: r for r in await UsageSession.select()}


async def live(machine: int) -> dict:
    return await MachineLive.select().where(MachineLive.machine == machine).first()


def sensor(watts: float, kwh: float, at) -> bytes:
    return json.dumps({"Time": at.replace(tzinfo=None).isoformat(timespec="seconds"),
                       "ENERGY": {"Total": kwh, "Power": watts}}).encode()


async def test_a_job_started_and_ended_in_one_batch_is_one_completed_session(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    where, at = topic("bellevue", "gw", "prusa"), now()
    await record((where, contract_event("job_started", "j", at - timedelta(minutes=10), file="lampe.gcode")),
                 (where, contract_event("job_finished", "j", at, duration_s=600)),
                 (where, contract_event("heartbeat", "", at)))
    [session] = (await sessions()).values()
    assert (session["outcome"], session["file_name"], session["duration_s"]) == ("completed", "lampe.gcode", 600)
    assert session["walk_in"] is True and (await live(machine))["state"] == "idle"


async def test_the_same_event_twice_in_one_batch_counts_once(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    where, at = topic("bellevue", "gw", "prusa"), now()
    # the copy names another job: were it used, a second session would appear
    await record((where, contract_event("job_started", "j", at, msg_id="once")),
                 (where, contract_event("job_started", "k", at, msg_id="once")))
    assert set(await sessions()) == {"j"}
    assert await ReceivedMessage.count() == 1


async def test_a_broken_message_is_dead_lettered_alone_in_arrival_order(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    await wire_device(await make_machine(site, "laser", kind="laser_cutter"), "tasmota", "plug")
    where, at = topic("bellevue", "gw", "prusa"), now()
    await record((where, b"{not json"),
                 (where, contract_event("job_started", "j", at)),
                 ("tele/plug/SENSOR", b'{"ENERGY": {}}'),
                 (topic("bellevue", "intruder", "prusa"), contract_event("job_started", "x", at)),
                 ("tele/plug/SENSOR", sensor(5, 1.0, at)))
    reasons = [r["reason"] for r in await DeadLetter.select(DeadLetter.reason).order_by(DeadLetter.id)]
    assert len(reasons) == 3
    assert "JSON" in reasons[0] and "ENERGY.Power" in reasons[1] and "unknown gateway" in reasons[2]
    assert set(await sessions()) == {"j"}
    assert (await live(machine))["state"] == "busy"


async def test_a_device_message_dead_lettered_is_dead_lettered_again_when_it_comes_again(db):
    """Its message key is given back: the same bytes sent again are judged again, not taken
    for an already recorded message."""
    site = await make_site("bellevue")
    await wire_device(await make_machine(site, "laser", kind="laser_cutter"), "tasmota", "plug")
    await record(("tele/plug/SENSOR", b'{"ENERGY": {}}'))
    await record(("tele/plug/SENSOR", b'{"ENERGY": {}}'), ("tele/plug/SENSOR", b'{"ENERGY": {}}'))
    assert await DeadLetter.count() == 3
    assert await ReceivedMessage.count() == 0


async def test_a_gateway_wired_a_moment_ago_is_known_at_once(db):
    """The listener keeps the directory in memory; a message naming a gateway it does not
    know makes it read the directory again, so a gateway just created is not refused."""
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    where = topic("bellevue", "gw", "prusa")
    await record((where, contract_event("job_started", "early", now())))
    assert "unknown gateway" in (await DeadLetter.select(DeadLetter.reason).first())["reason"]
    await wire_gateway(site, "gw", machine)
    await record((where, contract_event("job_started", "j", now())))
    assert set(await sessions()) == {"j"}


async def test_plug_readings_in_one_batch_make_the_job_the_detector_sees(db):
    site = await make_site("kerourien", timezone="UTC")
    laser = await make_machine(site, "epilog", kind="laser_cutter")
    await wire_device(laser, "tasmota", "plug", start_w=200, idle_w=60, start_after_s=20, stop_after_s=60)
    t0 = now() - timedelta(minutes=10)
    readings = [(0, 40, 1.000), (10, 900, 1.000), (40, 900, 1.010), (300, 900, 1.080), (320, 30, 1.100),
                (400, 30, 1.100)]
    await record(*[("tele/plug/SENSOR", sensor(w, kwh, t0 + timedelta(seconds=s))) for s, w, kwh in readings])
    [session] = (await sessions()).values()
    assert session["outcome"] == "completed" and session["energy_wh"] == pytest.approx(100.0)
    assert session["started_at"] == t0 + timedelta(seconds=10) and session["ended_at"] == t0 + timedelta(seconds=320)
    state = await live(laser)
    assert (state["state"], state["power_w"]) == ("idle", 30)


async def test_sessions_of_one_batch_are_linked_to_their_bookings(db):
    site = await make_site("bellevue")
    maker = await make_account("maiwenn")
    machines = [await make_machine(site, f"prusa-{n}") for n in range(3)]
    gateway = await wire_gateway(site, "gw", machines[0])
    for machine in machines[1:]:
        await Telemetry.insert(Telemetry(machine=machine, format="contract", gateway=gateway))
    start = now() - timedelta(hours=2)
    booked = {}
    for n, machine in enumerate(machines[:2]):  # the third machine is not booked: a walk-in
        booked[machine] = (await Booking.insert(Booking(
            machine=machine, maker=maker, booked_by=maker, start_at=start + timedelta(minutes=10 * n),
            end_at=start + timedelta(hours=1))).returning(Booking.id))[0]["id"]
    await record(*[(topic("bellevue", "gw", f"prusa-{n}"),
                    contract_event("job_finished", f"job-{n}", start + timedelta(minutes=70), duration_s=3600))
                   for n in range(3)])
    found = await sessions()
    assert found["job-0"]["booking"] == booked[machines[0]] and found["job-0"]["overrun"] is True
    assert found["job-1"]["booking"] == booked[machines[1]]  # started 5 min early: counts
    assert found["job-2"]["booking"] is None and found["job-2"]["walk_in"] is True


async def test_two_listeners_recording_the_same_new_job_at_once_merge_into_one_session(db):
    """Two batches (two listeners sharing the work) both meet a job for the first time: one
    inserts its session, the other finds it inserted meanwhile and records its batch again
    over it. Nothing the two said is lost."""
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    where, at = topic("bellevue", "gw", "prusa"), now()
    await asyncio.gather(
        record((where, contract_event("job_started", "j", at - timedelta(minutes=10), file="lampe.gcode"))),
        record((where, contract_event("job_finished", "j", at, duration_s=600))))
    [session] = (await sessions()).values()
    assert (session["outcome"], session["file_name"], session["duration_s"]) == ("completed", "lampe.gcode", 600)
    assert await DeadLetter.count() == 0


async def network(sites: int = 2, gateways: int = 4, machines: int = 20, plugs: int = 10) -> list[tuple[str, str, str]]:
    """Contract machines (site, gateway, machine slug) on a few gateways, and Tasmota plugs."""
    wired = []
    for s in range(sites):
        site = await make_site(f"site-{s}", timezone="UTC")
        for g in range(gateways // sites):
            ident = f"gw-{s}-{g}"
            gateway = (await Gateway.insert(Gateway(ident=ident, site=site, name=ident)).returning(Gateway.id))[0]["id"]
            for m in range(machines // gateways):
                slug = f"m-{g}-{m}"
                await Telemetry.insert(Telemetry(machine=await make_machine(site, slug), format="contract",
                                                 gateway=gateway))
                wired.append((f"site-{s}", ident, slug))
        for p in range(plugs // sites):
            await wire_device(await make_machine(site, f"plug-{p}"), "tasmota", f"plug-{s}-{p}")
    return wired


def mixed_batch(wired: list[tuple[str, str, str]], size: int, run: str, at) -> list[tuple[str, bytes]]:
    """``size`` messages from ``at`` on: starts, heartbeats and ends round the machines, plug
    readings, a gateway that says it is lost, one broken message."""
    messages = [("fablab/v1/site-0/gw-0-0/status", b'{"state": "lost"}'), (topic(*wired[0]), b"{broken")]
    for n in range(size - len(messages)):
        if n % 4 == 3:
            messages.append((f"tele/plug-{n % 2}-{n % 5}/SENSOR", sensor(900 if n % 8 == 3 else 5, 1 + n / 1000,
                                                                        at + timedelta(seconds=n))))
            continue
        event = ("job_started", "heartbeat", "job_finished")[n % 3]
        site, gateway, machine = wired[(n // 3) % len(wired)]
        messages.append((topic(site, gateway, machine),
                         contract_event(event, "" if event == "heartbeat" else f"{run}-{n // 3}",
                                        at + timedelta(seconds=n), msg_id=f"{run}-{n}", duration_s=60.0)))
    return messages


def counting_statements(monkeypatch, engine) -> list[str]:
    """Every statement the engine runs from now on, as compiled SQL (patched on the engine's
    class: PostgreSQL's engine does not take instance attributes)."""
    seen: list[str] = []
    run_querystring = type(engine).run_querystring

    async def counted(self, querystring, in_pool: bool = False):
        seen.append(querystring.compile_string(engine_type=self.engine_type)[0])
        return await run_querystring(self, querystring, in_pool=in_pool)

    monkeypatch.setattr(type(engine), "run_querystring", counted)
    return seen


@pytest.mark.parametrize("size", [20, 200])
async def test_a_batch_costs_a_few_statements_whatever_its_size(db, monkeypatch, size):
    wired = await network()
    await record(*mixed_batch(wired, 20, "warm-up", now() - timedelta(hours=2)))  # the directory is read, then kept
    batch = mixed_batch(wired, size, "measured", now() - timedelta(hours=1))
    seen = counting_statements(monkeypatch, db.engine)
    await record(*batch)
    monkeypatch.undo()
    listing = "\n".join(f"{n:3}. {sql[:200]}" for n, sql in enumerate(seen, 1))
    print(f"{size} messages: {len(seen)} statements\n{listing}")
    assert len(seen) <= BATCH_BUDGET, listing
    assert not any("telemetry" in sql for sql in seen), "the directory was read again"
    assert await DeadLetter.count() == 2  # the broken message, in each batch
    assert await ReceivedMessage.count() == (20 - 2) + (size - 2)  # all but the status and the broken one


async def test_a_threshold_changed_by_staff_counts_from_the_next_batch(db):
    """The listener keeps the directory in memory; a change made through the service is not
    left waiting for the directory's age limit."""
    from fabbooking.usage.services import set_telemetry

    site = await make_site("kerourien", timezone="UTC")
    laser = await make_machine(site, "epilog", kind="laser_cutter")
    await wire_device(laser, "tasmota", "plug", start_w=1000, idle_w=60, start_after_s=20, stop_after_s=60)
    t0 = now() - timedelta(minutes=10)
    await record(("tele/plug/SENSOR", sensor(900, 1.0, t0)), ("tele/plug/SENSOR", sensor(900, 1.01, t0 + timedelta(seconds=40))))
    assert await sessions() == {}, "900 W is under the 1,000 W start threshold"
    await set_telemetry(None, laser, {"start_w": 500})
    await record(("tele/plug/SENSOR", sensor(900, 1.02, t0 + timedelta(seconds=60))),
                 ("tele/plug/SENSOR", sensor(900, 1.03, t0 + timedelta(seconds=90))))
    [session] = (await sessions()).values()
    assert session["outcome"] == "running", "the new threshold started the job at once"
