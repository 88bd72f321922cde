"""In real Chromium (with axe): the language switch keeps the slot being booked, the week
starts today and gives the focus back to its links after an htmx change, a booking past its
online cancel deadline offers no « Annuler », and the desk books for a walk-in person with
the machine's free stretches in view."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.dates import format_date

from tests import browser_support
from tests.browser_support import DEMO_PASSWORD, PHONE, axe_violations, describe_violations, login, open_page

# The fixtures, bound in this module so pytest finds them (pytest_plugins is root-only).
browser, live_server = browser_support.browser, browser_support.live_server

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None

BREST = ZoneInfo("Europe/Paris")
PRINTER = "Imprimante 3D Prusa MK4 n° 1"
DESK = "/desk/fabriques-du-ponant"


def no_axe_violations(page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{where}:\n{describe_violations(violations)}"


def htmx_settled(page) -> None:
    """Wait until htmx has swapped in the last answer and wired up its controls (it does so
    20 ms after the swap; a person is never that quick, a test is)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def machine_path(page, base: str, name: str) -> str:
    page.goto(base + "/")
    return page.get_by_role("link", name=name, exact=True).first.get_attribute("href")


def test_the_language_switch_keeps_the_slot_being_booked(browser, live_server):
    with open_page(browser) as page:
        login(page, live_server, "maiwenn")
        # first the week htmx moved to (the form was drawn for the first week)
        page.goto(live_server + machine_path(page, live_server, PRINTER))
        page.locator("#week-next").click()
        expect(page).to_have_url(re.compile(rf"week={browser_support.next_week()}"))
        htmx_settled(page)
        page.locator("header form.lang").get_by_role("button", name="English").click()
        expect(page.get_by_role("link", name="Next week →")).to_be_visible()
        expect(page).to_have_url(re.compile(rf"week={browser_support.next_week()}"))
        page.locator("header form.lang").get_by_role("button", name="Français").click()

        page.goto(live_server + machine_path(page, live_server, PRINTER) + f"?week={browser_support.next_week()}")
        page.locator("#week a.free:visible").first.click()
        expect(page.get_by_role("button", name="Confirmer la réservation")).to_be_visible()
        form_url = page.url
        assert "start=" in form_url

        page.locator("header form.lang").get_by_role("button", name="English").click()
        expect(page.get_by_role("button", name="Confirm the booking")).to_be_visible()
        assert page.url == form_url, "the switch kept the address, its slot included"
        expect(page.get_by_text("This slot is no longer free")).to_have_count(0)
        expect(page.locator("#booking-summary")).to_contain_text("You can cancel online until")
        no_axe_violations(page, "booking form in English")
        page.locator("header form.lang").get_by_role("button", name="Français").click()
        expect(page.get_by_role("button", name="Confirmer la réservation")).to_be_visible()


def test_the_week_starts_today_and_gives_the_focus_back_after_a_change(browser, live_server):
    today = datetime.now(BREST).date()
    with open_page(browser) as page:
        page.goto(live_server + machine_path(page, live_server, PRINTER))
        head = page.locator("table.week thead th")
        expect(head.nth(1)).to_have_text(format_date(today, "EEE d/MM", locale="fr"))
        expect(head).to_have_count(8)  # the hours, then seven days from today

        following = page.locator("#week-next")
        following.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(rf"week={browser_support.next_week()}"))
        expect(head.nth(1)).to_have_text(format_date(today + timedelta(days=7), "EEE d/MM", locale="fr"))
        expect(page.locator("#week-next")).to_be_focused()
        htmx_settled(page)

        page.keyboard.press("Shift+Tab")  # back to « Semaine précédente », just before
        expect(page.locator("#week-previous")).to_be_focused()
        page.keyboard.press("Enter")
        expect(head.nth(1)).to_have_text(format_date(today, "EEE d/MM", locale="fr"))
        # at today the link is unavailable, but the focus stays on it rather than falling to <body>
        expect(page.locator("#week-previous")).to_be_focused()
        expect(page.locator("#week-previous")).to_have_attribute("aria-disabled", "true")
        no_axe_violations(page, "machine week")


def api_token(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.is_success, response.text
    return response.json()["token"]


def book_past_its_cancel_deadline(base: str) -> int:
    """Léa books the embroidery machine (no training needed) next week, after the admin set
    its online cancel deadline to more than two months: it is past as soon as it is made."""
    admin = {"Authorization": f"Bearer {api_token(base, 'admin')}"}
    machines = httpx.get(f"{base}/api/v1/machines", params={"site": "papifab-kerourien"}).json()
    machine = next(m for m in machines if m["slug"] == "brother-brodeuse")
    changed = httpx.patch(f"{base}/api/v1/machines/{machine['id']}", headers=admin,
                          json={"rules": {"cancel_deadline_minutes": 100_000}})
    assert changed.status_code == 200, changed.text
    start = datetime.now(BREST).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=7)
    free = httpx.get(f"{base}/api/v1/machines/{machine['id']}/availability",
                     params={"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}).json()["free"]
    begin = datetime.fromisoformat(free[0]["start"])
    booked = httpx.post(f"{base}/api/v1/bookings", headers={"Authorization": f"Bearer {api_token(base, 'lea')}"},
                        json={"machine_id": machine["id"], "start": begin.isoformat(),
                              "end": (begin + timedelta(minutes=60)).isoformat()})
    assert booked.status_code == 201, booked.text
    return booked.json()["id"]


def test_no_cancel_button_past_the_online_deadline_but_whom_to_ask(browser, live_server):
    booking_id = book_past_its_cancel_deadline(live_server)
    with open_page(browser) as page:
        login(page, live_server, "lea")
        page.goto(f"{live_server}/me/bookings")
        card = page.locator(f"#booking-{booking_id}")
        expect(card).to_contain_text("Brodeuse Brother Innov-is")
        expect(card.get_by_role("link", name=re.compile("^Annuler"))).to_have_count(0)
        expect(card).to_contain_text("Il est trop tard pour l'annuler en ligne")
        expect(card.get_by_role("link", name="PAPIFab de Kérourien")).to_have_attribute(
            "href", "/sites/papifab-kerourien")
        no_axe_violations(page, "my bookings")
        page.goto(f"{live_server}/me/bookings/{booking_id}/cancel")
        expect(page.get_by_role("button", name="Oui, annuler")).to_have_count(0)
        expect(page.locator("main")).to_contain_text("prévenez l'accueil de PAPIFab de Kérourien")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_the_desk_books_for_a_walk_in_with_the_free_stretches_in_view(browser, live_server, javascript):
    name = f"Nadia {uuid.uuid4().hex[:4]}"
    username = f"nadia-{uuid.uuid4().hex[:6]}"
    # the FabLab opens Monday to Saturday: the first weekday from tomorrow on
    day = datetime.now(BREST).date() + timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    with open_page(browser, PHONE if javascript else None, javascript=javascript) as page:
        login(page, live_server, "gwen")
        page.goto(f"{live_server}/desk")
        expect(page).to_have_url(re.compile(rf"{DESK}$"))  # her only site: straight to its desk
        tabs = page.get_by_role("navigation", name="Sections de l'accueil")
        tabs.get_by_role("link", name="Réserver pour quelqu'un").click()
        page.get_by_role("link", name="cherchez-la ou créez son compte").click()

        page.get_by_label("Prénom et nom").fill(name)
        page.locator("#new-username").fill(username)
        page.locator("#new-password").fill("un-secret-1")
        page.get_by_role("button", name="Créer le compte").click()
        expect(page.get_by_role("status")).to_contain_text(f"Le compte de {name} est créé")
        expect(page.get_by_role("heading", level=2)).to_have_text("Réserver pour quelqu'un")

        # she needs the 3D printing training first: the person stays chosen on the way
        tabs.get_by_role("link", name="Valider une formation").click()
        page.get_by_label("Formation suivie").select_option(label="Impression 3D – initiation")
        page.get_by_role("button", name="Valider la formation").click()
        expect(page.get_by_role("status")).to_contain_text(f"La formation de {name} est validée")
        tabs.get_by_role("link", name="Réserver pour quelqu'un").click()

        heading = page.locator("#book-free")
        page.get_by_label("Machine", exact=True).select_option(label=PRINTER)
        if javascript:  # htmx swaps the step in: wait for it before the next choice
            expect(heading).to_contain_text(PRINTER)
            htmx_settled(page)
        page.get_by_label("Jour", exact=True).select_option(day.isoformat())
        if not javascript:
            page.get_by_role("button", name="Voir les créneaux libres").click()
        free = page.locator("ul.free-stretches a.free")
        expect(heading).to_contain_text(f"{PRINTER}, {format_date(day, 'EEEE d MMMM', locale='fr')}")
        if javascript:
            htmx_settled(page)
        expect(free.first).to_be_visible()
        expect(free.first).to_contain_text(re.compile(r"de \d\d:\d\d à \d\d:\d\d"))
        if javascript:
            no_axe_violations(page, "desk booking with free stretches (phone)")
        first_start = re.search(r"de (\d\d:\d\d)", free.first.inner_text()).group(1)
        free.first.click()
        # the form already offered that start: wait for the address (pushed by htmx after its
        # swap, or the link's own) before going on, not for the value
        expect(page).to_have_url(re.compile(rf"start={first_start}"))
        if javascript:
            htmx_settled(page)
        expect(page.get_by_label("Heure de début")).to_have_value(first_start)
        page.get_by_label("Durée").select_option("60")
        page.get_by_role("button", name=f"Réserver pour {name}").click()

        expect(page.get_by_role("status")).to_contain_text(f"C'est réservé : {PRINTER} pour {name}")
        expect(page.locator(".chosen-person")).to_contain_text(name)


def test_finding_a_person_at_the_desk_updates_the_results_in_place(browser, live_server):
    with open_page(browser) as page:
        login(page, live_server, "gwen")
        page.goto(f"{live_server}{DESK}/person?then=book")
        page.evaluate("window.fabbookingMarker = 1")
        search = page.get_by_role("searchbox", name="Nom ou nom d'utilisateur")
        search.press_sequentially("maiw")
        result = page.locator("#person-results").get_by_role("link", name=re.compile("Maïwenn"))
        expect(result).to_be_visible()
        assert page.evaluate("window.fabbookingMarker") == 1, "the page was reloaded, not updated in place"
        expect(search).to_be_focused()  # typing goes on where it was
        expect(page).to_have_url(re.compile(r"/person\?then=book&q=maiw$|/person\?q=maiw&then=book$"))
        result.click()
        expect(page.get_by_role("heading", level=2)).to_have_text("Réserver pour quelqu'un")
        expect(page.locator(".chosen-person")).to_contain_text("Maïwenn")
