"""What runs beside the web app: the usage listener (with an embedded broker when no
FABBOOKING_MQTT_URL is set), the demo's simulated machines on the demo's data, and the
background jobs (fabbooking.jobs.runner)."""

from __future__ import annotations

import asyncio
import logging
import os

from fabbooking.jobs.runner import run_jobs_forever
from fabbooking.settings import load_settings
from fabbooking.usage.broker_url import BrokerAddress, broker_address
from fabbooking.usage.demo_live import play_demo_machines
from fabbooking.usage.embedded_broker import DEFAULT_PORT, start_embedded_broker
from fabbooking.usage.listener import UsageListener

log = logging.getLogger("fabbooking.usage")


class UsageRuntime:
    def __init__(self) -> None:
        self.broker = None
        self.listener: UsageListener | None = None
        self.tasks: list[asyncio.Task] = []

    @property
    def listener_connected(self) -> bool | None:
        """Whether this process's usage listener is connected to its broker (None: it runs none)."""
        return None if self.listener is None else self.listener.connected.is_set()

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
            self.listener = listener
            self.tasks.append(asyncio.create_task(listener.run()))
            self.tasks.append(asyncio.create_task(play_demo_machines(
                listener.broker, embedded_broker=not settings.mqtt_url, ready=listener.connected)))
        self.tasks.append(asyncio.create_task(run_jobs_forever()))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.broker is not None:
            await self.broker.shutdown()


async def run_background() -> None:
    """``fabbooking worker``: the runtime alone, until the process is stopped."""
    from fabbooking import database

    await database.start_serving_pool(max_size=4)
    runtime = UsageRuntime()
    await runtime.start()
    try:
        await asyncio.gather(*runtime.tasks)
    finally:
        await runtime.stop()
        if database.is_postgres():
            await database.DB.close_connection_pool()

