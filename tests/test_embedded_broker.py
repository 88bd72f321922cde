"""`fabbooking serve` without FABBOOKING_MQTT_URL: its embedded broker (amqtt, MQTT 3.1.1)
takes a gateway's events and the listener inside the app records them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fabbooking.usage.tables import UsageSession
from tests.conftest import ROOT, make_machine, make_site, run_cli
from tests.mqtt_support import free_port
from tests.test_no_double_booking import wait_until_serving
from tests.usage_helpers import contract_event, eventually, now, topic, wire_gateway

pytestmark = pytest.mark.anyio


async def test_serve_records_usage_through_its_embedded_broker(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    web, mqtt_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fabbooking", "serve", "--port", str(web), "--mqtt-port", str(mqtt_port)],
        cwd=ROOT, env={**os.environ, "FABBOOKING_DATABASE_URL": db.url, "FABBOOKING_LISTENER": "on"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await wait_until_serving(f"http://127.0.0.1:{web}", server)
        gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gw-1", protocol=mqtt.MQTTv311)
        gateway.connect("127.0.0.1", mqtt_port)
        gateway.loop_start()

        async def published_and_recorded():
            info = gateway.publish(topic("bellevue", "gw-1", "prusa-mini"),
                                   contract_event("job_started", "j1", now()), qos=1)
            info.wait_for_publish(timeout=5)
            return await UsageSession.exists().where(UsageSession.job_key == "j1")

        # the listener may subscribe a moment after the web app answers: publish until seen
        await eventually(published_and_recorded, timeout=30, interval=0.5)
        gateway.loop_stop()
        gateway.disconnect()
        assert await UsageSession.count() == 1  # one job, however many times it was reported
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_taken_embedded_broker_port_is_reported_clearly(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(free_port()), "--mqtt-port", str(port),
                         url=f"sqlite:///{tmp_path}/db.sqlite3", check=False,
                         extra_env={"FABBOOKING_LISTENER": "on"}, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--mqtt-port" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_embedded_brokers_subscriptions_may_change_while_it_walks_them():
    """amqtt walks every subscription, awaiting, while a client connects; a subscription
    made meanwhile ended that client's session (a demo printer had to reconnect in CI)."""
    from fabbooking.usage.embedded_broker import start_embedded_broker

    broker = await start_embedded_broker(free_port())
    try:
        broker._subscriptions["fabbooking/a/+"] = []
        walked = []
        for topic_filter in broker._subscriptions:  # as amqtt's connection handler does
            walked.append(topic_filter)
            broker._subscriptions["fabbooking/b/+"] = []  # another client subscribes meanwhile
        assert walked == ["fabbooking/a/+"]
        assert set(broker._subscriptions) == {"fabbooking/a/+", "fabbooking/b/+"}
    finally:
        await broker.shutdown()
