"""Live machine state on the pages: from the machine's own reports, refreshed by polling."""

import re
from datetime import timedelta

import pytest

from fabbooking.usage.recording import Incoming, record_batch
from tests.usage_helpers import contract_event, now, topic, wire_gateway

pytestmark = pytest.mark.anyio


async def test_site_and_machine_pages_show_a_busy_machine_in_words(client, world):
    await wire_gateway(world.ids["atelier"], "gw", world.ids["printer"])
    page = (await client.get("/sites/atelier")).text
    # silent for now: the public sees whether it can be used, not the device's connection
    assert "Hors ligne" not in page and 'hx-trigger="every 30s"' in page
    await record_batch([Incoming(topic("atelier", "gw", "printer"),
                                 contract_event("job_started", "j", now() - timedelta(minutes=1)), now())], now())
    assert "En cours d'utilisation" in (await client.get("/sites/atelier")).text
    piece = await client.get("/sites/atelier", headers={"HX-Request": "true"})
    assert "<html" not in piece.text and 'id="site-machines"' in piece.text and "En cours d'utilisation" in piece.text
    badge = await client.get(f"/machines/{world.ids['printer']}/badge", headers={"HX-Request": "true"})
    assert 'id="machine-badge"' in badge.text and "En cours d'utilisation" in badge.text


async def test_machines_without_a_device_are_not_polled(client, world):
    page = (await client.get("/sites/atelier")).text
    assert "every 30s" not in page and re.search(r"(Libre maintenant|Fermé)", page)
