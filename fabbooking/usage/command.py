"""``fabbooking listen``: the usage listener alone, e.g. several of them sharing the load."""

from __future__ import annotations

import logging
import os

from fabbooking import database
from fabbooking.migrations import migrate
from fabbooking.observability.logs import configure_logging
from fabbooking.settings import load_settings
from fabbooking.usage.broker_url import BrokerAddress, broker_address
from fabbooking.usage.embedded_broker import DEFAULT_PORT
from fabbooking.usage.listener import UsageListener
from fabbooking.usage.partition import Partition

log = logging.getLogger("fabbooking.usage")


async def listen(client_id: str, share_group: str | None, partition: Partition | None = None) -> None:
    configure_logging(load_settings().log_format)
    await migrate(quiet=True)
    settings = load_settings()
    if settings.mqtt_url:
        listener = UsageListener(broker_address(settings.mqtt_url), client_id=client_id,
                                 share_group=share_group or None, partition=partition)
        where = settings.mqtt_url
    else:  # the broker embedded in a running 'fabbooking serve'
        port = int(os.environ.get("FABBOOKING_MQTT_EMBEDDED_PORT", DEFAULT_PORT))
        listener = UsageListener(BrokerAddress("127.0.0.1", port), client_id=client_id, mqtt5=False,
                                 partition=partition)
        where = f"the embedded broker on 127.0.0.1:{port}"
    share = f", sites of share {partition}" if partition else ""
    log.info("Listening for machine usage on %s as %r%s", where, client_id, share)
    if database.is_postgres():
        await database.start_serving_pool(max_size=4)
    try:
        await listener.run()
    finally:
        if database.is_postgres():
            await database.DB.close_connection_pool()
