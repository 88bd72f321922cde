"""What runs beside the web app: the usage listener (with an embedded broker when no
FABBOOKING_MQTT_URL is set), the demo's simulated machines on the demo's data, and the
no-show sweeper."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

from fabbooking.settings import load_settings
from fabbooking.usage.broker_url import BrokerAddress, broker_address
from fabbooking.usage.demo_live import play_demo_machines
from fabbooking.usage.embedded_broker import DEFAULT_PORT, start_embedded_broker
from fabbooking.usage.listener import UsageListener
from fabbooking.usage.no_show import release_no_shows
from fabbooking.usage.recording import forget_old_message_keys

log = logging.getLogger("fabbooking.usage")
SWEEP_EVERY_S = 60.0


class UsageRuntime:
    def __init__(self) -> None:
        self.broker = None
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        settings = load_settings()
        if os.environ.get("FABBOOKING_LISTENER", "on") != "off":
            client_id = os.environ.get("FABBOOKING_MQTT_CLIENT_ID", "fabbooking-listener")
            if settings.mqtt_url:
                listener = UsageListener(broker_address(settings.mqtt_url), client_id=client_id)
            else:
                port = int(os.environ.get("FABBOOKING_MQTT_EMBEDDED_PORT", DEFAULT_PORT))
                self.broker = await start_embedded_broker(port)
                log.info("embedded MQTT broker on 127.0.0.1:%d", port)
                listener = UsageListener(BrokerAddress("127.0.0.1", port), client_id=client_id, mqtt5=False)
            self.tasks.append(asyncio.create_task(listener.run()))
            self.tasks.append(asyncio.create_task(play_demo_machines(
                listener.broker, embedded_broker=not settings.mqtt_url, ready=listener.connected)))
        self.tasks.append(asyncio.create_task(sweep_forever()))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.broker is not None:
            await self.broker.shutdown()


async def run_background() -> None:
    """``fabbooking worker``: the runtime alone, until the process is stopped."""
    from fabbooking import database

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if database.is_postgres():
        await database.DB.start_connection_pool(min_size=1, max_size=4)
    runtime = UsageRuntime()
    await runtime.start()
    try:
        await asyncio.gather(*runtime.tasks)
    finally:
        await runtime.stop()
        if database.is_postgres():
            await database.DB.close_connection_pool()


async def sweep_forever() -> None:
    while True:
        try:
            released = await release_no_shows(datetime.now(UTC))
            if released:
                log.info("no-shows released: %s", released)
            await forget_old_message_keys(datetime.now(UTC))
        except Exception:  # noqa: BLE001 - try again at the next round
            log.exception("no-show sweep failed")
        await asyncio.sleep(SWEEP_EVERY_S)
