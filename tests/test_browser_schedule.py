"""« Any 3D printer tomorrow afternoon », in a real browser: from the home page's search to a
confirmed booking in three steps (search, choose a free hour, confirm), with htmx, without
JavaScript and with the keyboard alone; the schedule's filters swapped by htmx keep the
focus; on a phone, machine cards without sideways scrolling; no axe violation.

The demo's places never open on Sunday: when tomorrow is a Sunday, the search asks for the
Monday after (the Fabriques du Ponant open then) — the same three steps.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import browser_support
from tests.browser_support import PHONE, axe_violations, describe_violations, login, open_page
from tests.test_browser_maker import focused, tab_until

# The fixtures, bound in this module so pytest finds them (pytest_plugins is root-only).
browser, live_server = browser_support.browser, browser_support.live_server

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None


def search_day() -> str:
    """« tomorrow », or the Monday after when tomorrow is a Sunday (no demo place opens)."""
    tomorrow = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=1)
    return (tomorrow + timedelta(days=1)).isoformat() if tomorrow.weekday() == 6 else "tomorrow"


def confirmed(page) -> None:
    expect(page).to_have_url(re.compile(r"/me/bookings\?done=booked"))
    expect(page.get_by_role("status")).to_contain_text("C'est réservé")
    booking = re.search(r"#(booking-\d+)$", page.url).group(1)
    expect(page.locator(f"#{booking}")).to_contain_text("Imprimante 3D")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_any_3d_printer_tomorrow_afternoon_in_three_steps(browser, live_server, javascript):
    with open_page(browser, javascript=javascript) as page:
        login(page, live_server, "maiwenn" if javascript else "karim")
        page.goto(live_server + "/")
        search = page.get_by_role("search", name="Trouver une machine libre")
        search.get_by_label("Quoi ?").select_option("3d_printer")
        search.get_by_label("Quand ?").select_option(search_day())
        search.get_by_label("À quel moment ?").select_option("afternoon")
        search.get_by_role("button", name="Voir les machines libres").click()  # step 1

        expect(page).to_have_url(re.compile(r"/schedule\?kind=3d_printer&day=.+&period=afternoon"))
        if javascript:  # axe runs as a script in the page
            problems = axe_violations(page)
            assert not problems, describe_violations(problems)
        free = page.locator("#schedule a.free:visible")
        expect(free.first).to_be_visible()
        assert all("Imprimante 3D" in (label or "") for label in
                   free.evaluate_all("links => links.map(a => a.getAttribute('aria-label'))"))
        free.first.click()  # step 2

        expect(page.get_by_role("heading", level=1)).to_contain_text("Réserver Imprimante 3D")
        page.get_by_role("button", name="Confirmer la réservation").click()  # step 3
        confirmed(page)


def test_from_the_search_to_a_booking_with_the_keyboard_alone(browser, live_server):
    with open_page(browser) as page:
        login(page, live_server, "yannick")
        page.goto(live_server + "/")
        tab_until(page, lambda e: e["id"] == "search-kind", "the « what » list")
        page.keyboard.type("Imprimante")  # a closed list picks the option one types
        tab_until(page, lambda e: e["id"] == "search-day", "the « when » list")
        if search_day() == "tomorrow":
            page.keyboard.press("ArrowDown")
        else:
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
        tab_until(page, lambda e: e["id"] == "search-period", "the « part of the day » list")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        tab_until(page, lambda e: e["text"] == "Voir les machines libres", "the search button")
        page.keyboard.press("Enter")

        expect(page).to_have_url(re.compile(r"/schedule\?kind=3d_printer&day=.+&period=afternoon"))
        cell = tab_until(page, lambda e: e["tag"] == "a" and "free" in e["cls"].split(), "a free hour")
        assert cell["label"].startswith("Libre : réserver Imprimante 3D"), cell
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/machines/\d+/book\?start="))
        page.wait_for_load_state()  # the form, not the schedule leaving, has the keyboard
        tab_until(page, lambda e: e["tag"] == "button" and e["text"] == "Confirmer la réservation",
                  "the confirm button")
        page.keyboard.press("Enter")
        confirmed(page)


def test_htmx_swaps_the_schedule_and_keeps_the_focus_where_it_was(browser, live_server):
    with open_page(browser) as page:
        page.goto(f"{live_server}/schedule?day={search_day()}")  # today may be a Sunday: nothing open
        page.evaluate("window.fabbookingMarker = 1")
        page.locator("#schedule-kind").focus()
        with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
            page.keyboard.type("Découpeuse laser")
        expect(page).to_have_url(re.compile(r"kind=laser_cutter"))
        expect(page.locator("#schedule table.schedule")).not_to_contain_text("Imprimante 3D")
        assert focused(page)["id"] == "schedule-kind"
        tab_until(page, lambda e: e["id"] == "schedule-next", "the next day link")
        with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
            page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"day=\d{4}-\d\d-\d\d"))
        assert focused(page)["id"] == "schedule-next", focused(page)
        assert page.evaluate("window.fabbookingMarker") == 1, "the page was loaded again instead of swapped"


def test_on_a_phone_the_schedule_is_machine_cards_without_sideways_scrolling(browser, live_server):
    with open_page(browser, PHONE) as page:
        page.goto(f"{live_server}/schedule?day={search_day()}&kind=3d_printer")
        expect(page.locator("table.schedule")).to_be_hidden()
        cards = page.locator(".schedule-cards li.card")
        expect(cards.first).to_be_visible()
        assert cards.count() >= 1
        wide = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, "the schedule scrolls sideways on a phone"
        problems = axe_violations(page)
        assert not problems, describe_violations(problems)
        page.locator(".schedule-cards a.free").first.click()
        expect(page).to_have_url(re.compile(r"/login\?next="))  # anonymous: sign in, then the form
