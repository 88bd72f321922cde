"""A small MQTT broker inside the app (amqtt, MQTT 3.1.1) for machines where no Mosquitto
runs, so the whole system works on a fresh machine. Production uses Mosquitto (docs/mqtt.md)."""

from __future__ import annotations

import socket

from fabbooking.errors import CommandFailed

DEFAULT_PORT = 1884  # not 1883: a machine that already runs Mosquitto keeps working


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandFailed(
                f"the embedded MQTT broker cannot listen on {host}:{port} ({exc.strerror}). Choose "
                "another port with --mqtt-port, or point FABBOOKING_MQTT_URL at your Mosquitto."
            ) from None


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
