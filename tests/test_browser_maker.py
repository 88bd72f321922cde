"""A maker books a machine in a real browser: with htmx, without JavaScript, with the
keyboard alone; touch targets; a refusal explained next to the form.

The grid of next week is used: every slot there is in the future, whatever the day and
hour the tests run.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests import browser_support
from tests.browser_support import DESKTOP, PHONE, login, next_monday, next_week, open_page

# The fixtures, bound in this module so pytest finds them (pytest_plugins is root-only).
browser, live_server = browser_support.browser, browser_support.live_server

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None

PRINTER = "Imprimante 3D Prusa MK4 n° 1"
PRINTER_2 = "Imprimante 3D Prusa MK4 n° 2"
SMALL_PRINTER = "Imprimante 3D Prusa Mini"
LASER = "Découpeuse laser Trotec Speedy 400"
MAX_TABS = 80
FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), cls: e.getAttribute("class") || "", id: e.id,
          text: (e.textContent || "").trim().slice(0, 60), label: e.getAttribute("aria-label") || "",
          outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth), shadow: s.boxShadow};
}"""


def machine_path(page, base: str, name: str) -> str:
    page.goto(base + "/")
    return page.get_by_role("link", name=name, exact=True).first.get_attribute("href")


def book_next_week_and_cancel(page, base: str, machine: str) -> None:
    """Home → machine → next week → a free cell → confirm → my bookings → cancel."""
    note = f"porte-clés {uuid.uuid4().hex[:6]}"
    page.goto(base + "/")
    page.get_by_role("link", name=machine, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(machine)
    page.get_by_role("link", name="Semaine suivante").click()
    expect(page).to_have_url(re.compile(rf"week={next_week()}"))
    page.locator("#week a.free:visible").last.click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Réserver {machine}")
    page.get_by_label("Ce que vous allez faire (facultatif)").fill(note)
    page.get_by_role("button", name="Confirmer la réservation").click()

    expect(page).to_have_url(re.compile(r"/me/bookings\?done=booked"))
    expect(page.get_by_role("status")).to_contain_text("C'est réservé")
    card = page.locator("li.card", has_text=note)
    expect(card).to_have_count(1)
    expect(card.get_by_role("heading")).to_have_text(machine)
    card.get_by_role("link", name=re.compile(r"^Annuler")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Annuler cette réservation ?")
    page.get_by_role("button", name="Oui, annuler").click()
    expect(page).to_have_url(re.compile(r"/me/bookings\?done=cancelled"))
    expect(page.get_by_role("status")).to_contain_text("Le créneau est de nouveau libre")
    cancelled = page.locator("li.card", has_text=note)
    expect(cancelled).to_have_count(1)
    expect(cancelled.locator(".badge")).to_have_text("Annulée")
    expect(cancelled.get_by_role("link", name=re.compile(r"^Annuler"))).to_have_count(0)


def test_maker_books_and_cancels_with_htmx(browser, live_server):
    with open_page(browser) as page:
        login(page, live_server, "maiwenn")
        assert page.evaluate("typeof htmx") == "object", "htmx did not load"
        # the week navigation is swapped in by htmx: no new page load, the marker survives
        page.goto(live_server + machine_path(page, live_server, PRINTER))
        page.evaluate("window.fabbookingMarker = 1")
        with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
            page.get_by_role("link", name="Semaine suivante").click()
        expect(page).to_have_url(re.compile(rf"week={next_week()}"))
        assert page.evaluate("window.fabbookingMarker") == 1, "the week grid was not swapped by htmx"
        book_next_week_and_cancel(page, live_server, PRINTER)


def test_maker_books_and_cancels_without_javascript(browser, live_server):
    with open_page(browser, javascript=False) as page:
        login(page, live_server, "maiwenn")
        book_next_week_and_cancel(page, live_server, PRINTER_2)


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def assert_focus_visible(element: dict) -> None:
    visible = (element["outline"] != "none" and element["outlineWidth"] > 0) or element["shadow"] != "none"
    assert visible, f"no visible focus indicator on {element}"


def tab_until(page, wanted, what: str) -> dict:
    """Press Tab until ``wanted(focused element)``; every element on the way shows its focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        element = focused(page)
        if element["tag"] != "body":
            assert_focus_visible(element)
        if wanted(element):
            return element
    pytest.fail(f"{what} never got the focus after {MAX_TABS} presses of Tab")


def test_booking_with_the_keyboard_alone(browser, live_server):
    note = f"clavier {uuid.uuid4().hex[:6]}"
    with open_page(browser) as page:
        login(page, live_server, "karim")
        page.goto(f"{live_server}{machine_path(page, live_server, SMALL_PRINTER)}?week={next_monday()}")
        cell = tab_until(page, lambda e: e["tag"] == "a" and "free" in e["cls"].split(), "a free cell")
        assert cell["label"].startswith("Libre, réserver"), cell
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Réserver {SMALL_PRINTER}")

        tab_until(page, lambda e: e["id"] == "note", "the note field")
        page.keyboard.type(note)
        tab_until(page, lambda e: e["tag"] == "button" and e["text"] == "Confirmer la réservation",
                  "the confirm button")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/me/bookings\?done=booked"))
        card = page.locator("li.card", has_text=note)
        expect(card).to_have_count(1)
        expect(card.get_by_role("heading")).to_have_text(SMALL_PRINTER)


TARGETS = """() => [...document.querySelectorAll("button, .button, nav a, a.free")]
  .filter(e => e.getClientRects().length)
  .map(e => ({what: e.outerHTML.slice(0, 90), height: e.getBoundingClientRect().height}))"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_touch_targets_are_at_least_44px_high(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        login(page, live_server, "maiwenn")
        machine = machine_path(page, live_server, PRINTER)
        page.goto(f"{live_server}{machine}?week={next_monday()}")
        form = page.locator("#week a.free:visible").first.get_attribute("href")
        too_small = []
        for path in ("/", f"{machine}?week={next_monday()}", form):
            page.goto(live_server + path)
            targets = page.evaluate(TARGETS)
            assert targets, f"no button or link found on {path}"
            too_small += [f"{path}: {t['height']:.1f}px {t['what']}" for t in targets if t["height"] < 44]
        assert not too_small, "touch targets under 44 px:\n" + "\n".join(too_small)


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_a_refused_booking_is_explained_in_plain_french_next_to_the_form(browser, live_server, javascript):
    with open_page(browser, javascript=javascript) as page:
        login(page, live_server, "lea")  # no training at all
        page.goto(f"{live_server}{machine_path(page, live_server, LASER)}?week={next_monday()}")
        expect(page.locator("dl.facts")).to_contain_text("Il faut la formation « Découpe laser – initiation »")
        page.locator("#week a.free:visible").last.click()
        page.get_by_role("button", name="Confirmer la réservation").click()

        alert = page.locator("#booking-form").get_by_role("alert")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text("Cette machine demande la formation « Découpe laser – initiation »")
        expect(alert).to_contain_text("Demandez-la à un animateur ou une animatrice")
        expect(page.locator("#booking-form form")).to_be_visible()  # she can still choose
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Réserver {LASER}")
        page.goto(live_server + "/me/bookings")
        expect(page.locator("main")).to_contain_text("Aucune réservation à venir.")


def test_on_a_phone_the_week_reads_day_by_day_without_sideways_scrolling(browser, live_server):
    with open_page(browser, PHONE) as page:
        login(page, live_server, "maiwenn")
        page.goto(f"{live_server}{machine_path(page, live_server, PRINTER)}?week={next_monday()}")
        expect(page.locator("table.week")).to_be_hidden()
        days = page.locator(".week-days h3")
        expect(days).to_have_count(7)
        expect(days.first).to_have_text(re.compile(r"^Lundi \d+ "))  # a heading opens with a capital, the month stays lower case
        wide = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, "the machine page scrolls sideways on a phone"
        slot = page.locator(".week-days a.free").first
        expect(slot).to_have_text(re.compile(r"^\d\d:\d\d$"))
        slot.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Réserver {PRINTER}")


def test_on_a_phone_the_menu_is_folded_and_opens_without_javascript(browser, live_server):
    with open_page(browser, PHONE, javascript=False) as page:
        login(page, live_server, "maiwenn")
        page.goto(live_server + "/")
        menu = page.get_by_role("navigation", name="Menu principal")
        expect(menu).to_have_count(0)  # folded: the page starts with its own content
        header = page.locator("header").bounding_box()
        assert header["height"] < 200, f"the header takes {header['height']:.0f} px of a phone"
        page.get_by_text("Menu", exact=True).click()
        expect(menu).to_have_count(1)
        menu.get_by_role("link", name="Mes réservations").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mes réservations")
