"""What the simulator and the reference gateway share: broker URLs and paho clients.

Only paho-mqtt, the standard library and Fabbooking's pure modules (no database, no web
framework): the gateway runs on a Raspberry Pi without the rest of Fabbooking's dependencies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fabbooking.usage.broker_url import BrokerAddress, broker_address


class DeviceError(Exception):
    """A problem the person running the tool can fix (bad address, refused password…)."""


Broker = BrokerAddress


def parse_broker_url(url: str) -> Broker:
    """``mqtt://host[:1883]`` or ``mqtts://host[:8883]``, with optional ``user:password@``."""
    try:
        return broker_address(url)
    except ValueError as exc:
        raise DeviceError(str(exc)) from None


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def new_client(client_id: str, broker: Broker, username: str | None = None, password: str | None = None,
               will: Will | None = None, mqtt5: bool = False) -> mqtt.Client:
    """A paho 2.x client with a clean session (the tools keep their own queues). MQTT 3.1.1
    by default: the broker embedded in Fabbooking (amqtt) speaks nothing newer."""
    if mqtt5:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                             clean_session=True)
    user = username or broker.username
    if user:
        client.username_pw_set(user, password if password is not None else broker.password)
    if broker.tls:
        client.tls_set()
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return client


def connect_blocking(client: mqtt.Client, broker: Broker, timeout: float = 15.0) -> None:
    """Connect, start paho's network thread and wait for the broker's answer."""
    answered = threading.Event()
    outcome: list = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        outcome.append(reason_code)
        answered.set()

    previous = client.on_connect
    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise DeviceError(f"cannot reach the MQTT broker at {broker.url}: {exc.strerror or exc}") from None
    client.loop_start()
    if not answered.wait(timeout):
        client.loop_stop()
        raise DeviceError(f"the MQTT broker at {broker.url} did not answer within {timeout:.0f} s")
    client.on_connect = previous
    if outcome[0].is_failure:
        client.loop_stop()
        raise DeviceError(f"the MQTT broker at {broker.url} refused the connection: {outcome[0]} "
                          "(check the user name and password)")
    if previous is not None:
        previous(client, None, None, outcome[0], None)
