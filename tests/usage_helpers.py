"""Helpers for usage tests: a machine wired to a gateway or a device, a publisher, polling."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fabbooking.usage.contract import Job, UsageEvent, build_event, event_topic
from fabbooking.usage.tables import Gateway, Telemetry


async def wire_gateway(site_id: int, ident: str, machine_id: int) -> int:
    gateway = (await Gateway.insert(Gateway(ident=ident, site=site_id, name=ident)).returning(Gateway.id))[0]["id"]
    await Telemetry.insert(Telemetry(machine=machine_id, format="contract", gateway=gateway))
    return gateway


async def wire_device(machine_id: int, fmt: str, device_topic: str, **thresholds) -> None:
    await Telemetry.insert(Telemetry(machine=machine_id, format=fmt, device_topic=device_topic, **thresholds))


class Publisher:
    """A plain MQTT client publishing QoS 1 messages and waiting for the broker's PUBACK."""

    def __init__(self, port: int, client_id: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes, retain: bool = False, wait: bool = True) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if wait:
            info.wait_for_publish(timeout=10)
        return info

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def contract_event(event: str, key: str, at: datetime, msg_id: str | None = None, **job) -> bytes:
    return build_event(UsageEvent(msg_id or uuid.uuid4().hex, at, event, Job(key, **job) if key else None))


def topic(site: str, gateway: str, machine: str) -> str:
    return event_topic(site, gateway, machine)


async def eventually(check, timeout: float = 20.0, interval: float = 0.05):
    """Poll an async ``check`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)




@pytest.fixture
async def listening(db, mosquitto):
    """Fabbooking's listener, in-process, subscribed to a real Mosquitto; stopped after."""
    from fabbooking.usage.broker_url import broker_address
    from fabbooking.usage.listener import UsageListener

    listener = UsageListener(broker_address(mosquitto.url), client_id="test-listener")
    task = asyncio.ensure_future(listener.run())
    await asyncio.wait_for(listener.connected.wait(), 20)
    await eventually(lambda: _subscribed(listener))
    yield listener
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _subscribed(listener) -> bool:
    return bool(listener._subscribed)
