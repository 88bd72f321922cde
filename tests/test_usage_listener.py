"""The listener against a real Mosquitto: events become usage sessions linked to bookings;
bad input goes to dead letters; the listener keeps going."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.usage.broker_url import broker_address
from fabbooking.usage.listener import UsageListener
from fabbooking.usage.tables import DeadLetter, MachineLive, UsageSession
from tests.conftest import make_account, make_machine, make_site
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


async def test_gateway_events_make_a_session_linked_to_the_booking(db, mosquitto, listening):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    maker = await make_account("maiwenn")
    await wire_gateway(site, "gw-1", machine)
    start = now() - timedelta(minutes=60)
    booking = (await Booking.insert(Booking(machine=machine, maker=maker, booked_by=maker, start_at=start,
                                            end_at=start + timedelta(hours=1))).returning(Booking.id))[0]["id"]
    publisher = Publisher(mosquitto.port)
    publisher.send(topic("bellevue", "gw-1", "prusa-mini"),
                   contract_event("job_started", "job-7", start + timedelta(minutes=5), file="lampe.gcode"))
    publisher.send(topic("bellevue", "gw-1", "prusa-mini"),
                   contract_event("job_finished", "job-7", start + timedelta(minutes=45), duration_s=2400))
    session = await eventually(lambda: UsageSession.select().where(UsageSession.outcome == "completed").first())
    assert session["booking"] == booking and not session["walk_in"]
    assert session["file_name"] == "lampe.gcode" and session["duration_s"] == 2400
    live = await MachineLive.select().where(MachineLive.machine == machine).first()
    assert live["state"] == "idle"
    publisher.close()


async def test_bad_messages_go_to_dead_letters_and_good_ones_still_count(db, mosquitto, listening):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    publisher = Publisher(mosquitto.port)
    good = topic("bellevue", "gw-1", "prusa-mini")
    publisher.send(good, b"{not json")
    publisher.send(topic("bellevue", "intruder", "prusa-mini"), contract_event("job_started", "a", now()))
    publisher.send(topic("bellevue", "gw-1", "laser"), contract_event("job_started", "a", now()))
    publisher.send(good, json.dumps({"v": 1, "msg_id": "x", "ts": "2099-01-01T00:00:00Z",
                                     "event": "heartbeat"}).encode())
    publisher.send(good, b"x" * 100_000)
    publisher.send(good, contract_event("job_started", "ok-1", now()))
    await eventually(lambda: UsageSession.count().where(UsageSession.job_key == "ok-1"))
    reasons = [r["reason"] for r in await DeadLetter.select(DeadLetter.reason).order_by(DeadLetter.id)]
    assert len(reasons) == 5
    assert "not JSON" in reasons[0] and "unknown gateway" in reasons[1]
    assert "does not serve" in reasons[2] and "future" in reasons[3] and "too large" in reasons[4]
    big = await DeadLetter.select(DeadLetter.size, DeadLetter.payload).order_by(DeadLetter.id, ascending=False).first()
    assert big["size"] == 100_000 and len(big["payload"]) <= 4096
    publisher.close()


async def test_a_redelivered_event_changes_nothing(db, mosquitto, listening):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    publisher = Publisher(mosquitto.port)
    # A retry reuses its msg_id: whatever it carries, a second message with that id is the
    # same event again, so only the first counts (sessions alone would not show this: they
    # are upserted per job key, so here each copy names another job).
    for job in ("j", "k", "l"):
        publisher.send(topic("bellevue", "gw-1", "prusa-mini"),
                       contract_event("job_finished", job, now(), msg_id="same-id", duration_s=60))
    publisher.send(topic("bellevue", "gw-1", "prusa-mini"), contract_event("heartbeat", "", now()))
    await eventually(lambda: _recorded_at_least(listening, 4))
    assert await UsageSession.count() == 1
    publisher.close()


async def _recorded_at_least(listener, n) -> bool:
    return listener.recorded >= n


async def test_metering_plug_power_becomes_a_job_and_a_walk_in(db, mosquitto, listening):
    site = await make_site("kerourien")
    machine = await make_machine(site, "epilog", kind="laser_cutter")
    await wire_device(machine, "tasmota", "laser-plug", start_w=200, idle_w=60, start_after_s=20, stop_after_s=60)
    await listening.refresh_subscriptions()
    publisher = Publisher(mosquitto.port)
    # subscribing does not wait for the broker's answer: the plug's first reading must not
    # come before the subscription does. Tasmota retains its LWT, so the broker hands it to
    # the subscription whenever that lands.
    publisher.send("tele/laser-plug/LWT", b"Online", retain=True)
    await eventually(lambda: MachineLive.exists().where(MachineLive.machine == machine))
    t0 = now() - timedelta(minutes=7)
    for seconds, watts, kwh in [(0, 40, 1.000), (10, 900, 1.000), (40, 900, 1.010), (300, 900, 1.080),
                                (320, 30, 1.100), (400, 30, 1.100)]:
        local = (t0 + timedelta(seconds=seconds)).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
        body = {"Time": local.replace(tzinfo=None).isoformat(timespec="seconds"),
                "ENERGY": {"Total": kwh, "Power": watts}}
        publisher.send("tele/laser-plug/SENSOR", json.dumps(body).encode())
    session = await eventually(lambda: UsageSession.select().where(UsageSession.outcome == "completed").first())
    assert session["walk_in"] is True
    assert session["started_at"] == t0 + timedelta(seconds=10)
    assert session["ended_at"] == t0 + timedelta(seconds=320)
    assert session["energy_wh"] == pytest.approx(100.0)
    publisher.send("tele/laser-plug/LWT", b"Offline", retain=True)
    await eventually(lambda: MachineLive.exists().where((MachineLive.machine == machine) & (MachineLive.state == "offline")))
    publisher.close()


async def test_a_stop_during_recording_lets_the_batch_finish_first(db, monkeypatch):
    """Cancelling the database work midway can leave SQLite's connection thread waiting
    forever (the stop then never ends): a stop waits for the batch being recorded."""
    from datetime import UTC, datetime

    from fabbooking.usage import listener as listener_module
    from fabbooking.usage.contract import event_topic
    from fabbooking.usage.listener import Received
    from fabbooking.usage.recording import Incoming

    started = asyncio.Event()
    real_record_batch = listener_module.record_batch

    async def slow_database(*args):
        started.set()
        await asyncio.sleep(0.3)  # the stop arrives while the database is at work
        return await real_record_batch(*args)

    monkeypatch.setattr(listener_module, "record_batch", slow_database)
    listener = UsageListener(broker_address("mqtt://127.0.0.1:1"), client_id="test-stop")
    unusable = Incoming(event_topic("nowhere", "gw-x", "m"), b"not json", datetime.now(UTC))
    listener._loop = asyncio.get_running_loop()
    listener.arrive(Received(unusable, mid=1, qos=0, connection=0))
    consuming = asyncio.ensure_future(listener._consume())
    await asyncio.wait_for(started.wait(), 10)
    consuming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(consuming, 15)
    assert await DeadLetter.count() == 1  # recorded to the end, not cut off


async def test_a_backlog_never_puts_more_than_the_receive_maximum_in_the_listeners_hands(db, mosquitto, listening,
                                                                                       monkeypatch):
    """While the database is held, the broker hands the listener at most its receive maximum
    of unacknowledged messages, however many are queued: memory stays bounded under a backlog."""
    from fabbooking.usage import listener as listener_module
    from fabbooking.usage.listener import RECEIVE_MAXIMUM

    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    held = asyncio.Event()
    in_hand: list[int] = []

    async def held_database(messages, now):
        in_hand.append(len(messages))
        await held.wait()

    monkeypatch.setattr(listener_module, "record_batch", held_database)
    publisher = Publisher(mosquitto.port)
    where = topic("bellevue", "gw-1", "prusa-mini")
    infos = [publisher.send(where, contract_event("heartbeat", "", now()), wait=False)
             for _ in range(RECEIVE_MAXIMUM + 500)]
    for info in infos:
        info.wait_for_publish(timeout=30)  # the broker has them all, and offered what it may

    async def unacknowledged() -> int:
        return sum(in_hand) + len(listening._arrived)

    assert await eventually(lambda: _equals(unacknowledged, RECEIVE_MAXIMUM))
    await asyncio.sleep(0.5)  # nothing more comes: a negative, which polling cannot show sooner
    assert await unacknowledged() == RECEIVE_MAXIMUM
    held.set()
    publisher.close()


async def _equals(value, expected) -> bool:
    return await value() == expected


async def test_events_published_with_mqtt5_properties_are_recorded_like_the_others(db, mosquitto, listening):
    """The listener decodes the common PUBLISH (MQTT 5, QoS 1, no properties) by a short road
    of its own; a gateway that adds properties (a user property, an expiry, a content type)
    goes paho's way, and its events count just the same, in order with the others."""
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gw5-{uuid.uuid4().hex[:8]}",
                          protocol=mqtt.MQTTv5)
    gateway.connect("127.0.0.1", mosquitto.port)
    gateway.loop_start()
    properties = Properties(PacketTypes.PUBLISH)
    properties.UserProperty = ("firmware", "2.4.1")
    properties.MessageExpiryInterval = 3600
    properties.ContentType = "application/json"
    where, start = topic("bellevue", "gw-1", "prusa-mini"), now() - timedelta(minutes=30)
    gateway.publish(where, contract_event("job_started", "with-properties", start), qos=1,
                    properties=properties).wait_for_publish(timeout=10)
    gateway.publish(where, contract_event("job_finished", "with-properties", start + timedelta(minutes=20)),
                    qos=1).wait_for_publish(timeout=10)  # no properties: the short road
    session = await eventually(lambda: UsageSession.select().where(UsageSession.outcome == "completed").first())
    assert session["job_key"] == "with-properties" and session["duration_s"] == 1200
    assert await DeadLetter.count() == 0
    gateway.loop_stop()
    gateway.disconnect()
