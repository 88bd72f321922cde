"""Recording without a broker: state rules that a gateway or a device relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fabbooking.usage.recording import Incoming, forget_old_message_keys, record_batch
from fabbooking.usage.tables import MachineLive, ReceivedMessage, UsageSession
from tests.conftest import make_machine, make_site
from tests.usage_helpers import contract_event, now, topic, wire_device, wire_gateway

pytestmark = pytest.mark.anyio


async def record(where: str, payload: bytes) -> None:
    await record_batch([Incoming(where, payload, now())], now())


async def live_state(machine: int) -> str:
    return (await MachineLive.select(MachineLive.state).where(MachineLive.machine == machine).first())["state"]


async def test_a_gateway_back_from_lost_mid_job_shows_the_machine_busy(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    where = topic("bellevue", "gw", "prusa")
    await record(where, contract_event("job_started", "j", now() - timedelta(minutes=5)))
    await record("fablab/v1/bellevue/gw/status", b'{"state": "lost"}')
    assert await live_state(machine) == "offline"
    await record("fablab/v1/bellevue/gw/status", b'{"state": "ready"}')
    await record(where, contract_event("heartbeat", "", now()))
    assert await live_state(machine) == "busy"


async def test_a_job_cut_short_is_interrupted(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    where = topic("bellevue", "gw", "prusa")
    at = now()  # one clock reading: two could fall either side of a second (301 s)
    await record(where, contract_event("job_started", "j", at - timedelta(minutes=5)))
    await record(where, contract_event("job_interrupted", "j", at))
    session = await UsageSession.select().first()
    assert session["outcome"] == "interrupted" and session["duration_s"] == 300
    assert await live_state(machine) == "idle"


async def test_a_replayed_ending_marks_the_session_replayed(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa")
    await wire_gateway(site, "gw", machine)
    where = topic("bellevue", "gw", "prusa")
    await record(where, contract_event("job_started", "j", now() - timedelta(minutes=5)))
    ending = contract_event("job_finished", "j", now()).replace(
        b'"event":"job_finished"', b'"event":"job_finished","replay":true')
    await record(where, ending)
    assert (await UsageSession.select(UsageSession.replayed).first())["replayed"] is True


async def test_the_same_relay_message_twice_days_apart_still_counts(db):
    site = await make_site("kerourien")
    machine = await make_machine(site, "laser", kind="laser_cutter")
    await wire_device(machine, "tasmota", "plug")
    await record("stat/plug/POWER", b"OFF")
    assert await live_state(machine) == "idle"
    await record("tele/plug/LWT", b"Offline")
    assert await live_state(machine) == "offline"
    # the very same bytes again: were it taken for a duplicate, the plug would stay offline
    await record("stat/plug/POWER", b"OFF")
    assert await live_state(machine) == "idle"


async def test_old_message_keys_are_forgotten_but_recent_ones_kept(db):
    await ReceivedMessage.insert(
        ReceivedMessage(key="dev:1:old", received_at=now() - timedelta(days=8)),
        ReceivedMessage(key="dev:1:new", received_at=now() - timedelta(hours=1)),
        ReceivedMessage(key="gw:g:recent", received_at=now() - timedelta(days=8)),
        ReceivedMessage(key="gw:g:ancient", received_at=now() - timedelta(days=61)),
    )
    await forget_old_message_keys(now())
    assert {r["key"] for r in await ReceivedMessage.select(ReceivedMessage.key)} == {"dev:1:new", "gw:g:recent"}
