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


class _SubscriptionsSnapshotOnIteration(dict):
    """amqtt 0.12 loops over its subscriptions with an await inside the loop (when a client
    connects, to send it retained messages); another client subscribing meanwhile then broke
    the connecting client's session ("dictionary changed size during iteration") and it had to
    reconnect. Iterating over a snapshot of the topic filters keeps both clients working."""

    def __iter__(self):
        return iter(list(self.keys()))


async def start_embedded_broker(port: int):
    import logging

    from amqtt.broker import Broker

    for chatty in ("amqtt", "transitions"):  # they log every packet at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)

    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    broker._subscriptions = _SubscriptionsSnapshotOnIteration()
    await broker.start()
    return broker
