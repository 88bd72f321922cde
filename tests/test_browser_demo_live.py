"""The live demo in a real browser: every page says the machines are simulated (readable,
no WCAG A/AA violation, at 1280 and 375 px), and a demo printer's page shows it at work."""

from __future__ import annotations

import time

import pytest

from tests import browser_support
from tests.browser_support import DESKTOP, PHONE, axe_violations, demo_server, describe_violations, open_page
from tests.mqtt_support import free_port

browser = browser_support.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None

BANNER = "Données de démonstration : les machines sont simulées."


@pytest.fixture(scope="module")
def playing_demo(sqlite_template, tmp_path_factory):
    """``fabbooking serve`` on the demo with its listener and embedded broker: the demo plays."""
    env = {"FABBOOKING_LISTENER": "on", "FABBOOKING_MQTT_EMBEDDED_PORT": str(free_port())}
    with demo_server(tmp_path_factory.mktemp("demo-live"), sqlite_template, extra_env=env) as base:
        yield base


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_pages_of_the_live_demo_say_the_machines_are_simulated(browser, playing_demo, viewport):
    with open_page(browser, viewport) as page:
        # the server answers before its background tasks have looked at the demo's machines
        deadline = time.monotonic() + 30
        page.goto(f"{playing_demo}/")
        while page.get_by_text(BANNER).count() == 0 and time.monotonic() < deadline:
            page.wait_for_timeout(250)
            page.goto(f"{playing_demo}/")
        expect(page.get_by_text(BANNER)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        violations = axe_violations(page)
        assert not violations, describe_violations(violations)


def test_a_demo_printer_page_shows_it_at_work(browser, playing_demo):
    with open_page(browser) as page:
        page.goto(f"{playing_demo}/")
        page.get_by_role("link", name="Imprimante 3D Prusa Mini").first.click()
        # the first jobs start within seconds; the badge asks the server again every 30 s
        expect(page.locator("#machine-badge")).to_contain_text("En cours d'utilisation", timeout=90_000)
