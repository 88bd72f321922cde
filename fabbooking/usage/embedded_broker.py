"""A small MQTT broker inside the app (amqtt, MQTT 3.1.1) for machines where no Mosquitto
runs, so the whole system works on a fresh machine. Production uses Mosquitto (docs/mqtt.md)."""

from __future__ import annotations

from fabbooking.errors import CommandFailed
from fabbooking.ports import port_problem

DEFAULT_PORT = 1884  # not 1883: a machine that already runs Mosquitto keeps working


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    if problem := port_problem(host, port):
        raise CommandFailed(
            f"the embedded MQTT broker cannot listen on {host}:{port} ({problem}). Choose "
            "another port with --mqtt-port, or point FABBOOKING_MQTT_URL at your Mosquitto."
        )


async def start_embedded_broker(port: int):
    import logging

    from amqtt.broker import Broker

    for chatty in ("amqtt", "transitions"):  # they log every packet at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)

    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    return broker
