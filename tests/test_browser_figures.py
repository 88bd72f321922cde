"""The figures pages in real Chromium: axe finds nothing at desktop and phone width, the
charts show last month's demo history, and the calendar address can be made without
JavaScript."""

from __future__ import annotations

import pytest

from tests import browser_support
from tests.browser_support import (
    DESKTOP,
    PHONE,
    axe_violations,
    describe_violations,
    login,
    open_page,
)

browser, live_server = browser_support.browser, browser_support.live_server

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
SITE = "fabriques-du-ponant"


def check(page, base: str, paths: list[str]) -> None:
    problems = []
    for path in paths:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, f"{path} answered {response and response.status}"
        violations = axe_violations(page)
        if violations:
            problems.append(f"{path}:\n{describe_violations(violations)}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], f"{path} scrolls sideways ({width}px)"
    assert not problems, "axe found accessibility violations:\n" + "\n".join(problems)


@VIEWPORTS
def test_public_figures_pages(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        check(page, live_server, ["/figures", f"/figures/{SITE}", "/open-data"])
        page.goto(f"{live_server}/figures/{SITE}")
        # last month's demo history is drawn: the hours chart has bars
        chart = page.get_by_role("img", name="Heures réservées et heures d'utilisation, par mois")
        assert chart.locator("rect[height='16']").count() > 4
        assert page.get_by_role("table", name="Mois par mois").is_visible()


@VIEWPORTS
def test_staff_and_maker_figures_pages(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        login(page, live_server, "gwen")
        check(page, live_server, [f"/figures/{SITE}"])
        assert page.get_by_text("Chiffres exacts, réservés à l'équipe.").is_visible()
    with open_page(browser, viewport) as page:
        login(page, live_server, "yannick")
        check(page, live_server, ["/me/calendar"])
        if page.get_by_role("button", name="Créer mon adresse d'agenda").count():
            page.get_by_role("button", name="Créer mon adresse d'agenda").click()
        check(page, live_server, ["/me/calendar?done=created"])
        assert page.get_by_label("Adresse de l'agenda").is_visible()


def test_a_maker_makes_a_calendar_address_without_javascript(browser, live_server):
    with open_page(browser, PHONE, javascript=False) as page:
        login(page, live_server, "lea")
        page.goto(f"{live_server}/me/bookings")
        page.get_by_role("link", name="Voir mes réservations dans mon agenda").click()
        page.get_by_role("button", name="Créer mon adresse d'agenda").click()
        address = page.get_by_label("Adresse de l'agenda").input_value()
        assert "/calendar/me/" in address and address.endswith(".ics")
        assert page.get_by_role("status").is_visible()  # « Votre adresse d'agenda est prête »
        feed = page.request.get(address.replace("http://127.0.0.1:8000", live_server))
        assert feed.status == 200 and feed.text().startswith("BEGIN:VCALENDAR")
