"""French first, English too, in a real browser: the browser's language is followed, the
switch in the header changes the page's language and it stays (cookie, then the account),
and the English pages have no WCAG A/AA violation.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from tests import browser_support
from tests.browser_support import (
    DEMO_PASSWORD,
    DESKTOP,
    axe_violations,
    describe_violations,
    login,
)

# The fixtures, bound in this module so pytest finds them (pytest_plugins is root-only).
browser, live_server = browser_support.browser, browser_support.live_server

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None

PRINTER = "Imprimante 3D Prusa MK4 n° 1"  # a machine's name is data: it is not translated
SITE = "Les Fabriques du Ponant"
HOME_FR = "Réserver une machine près de chez vous"
HOME_EN = "Book a machine near you"


@contextlib.contextmanager
def page_in(browser, locale: str) -> Iterator:
    """A page in a fresh context (own cookies) whose browser asks for ``locale``."""
    context = browser.new_context(viewport=DESKTOP, locale=locale)
    try:
        yield context.new_page()
    finally:
        context.close()


def expect_language(page, language: str) -> None:
    """``<html lang>``, the header's pressed button and the menu all say ``language``."""
    expect(page.locator("html")).to_have_attribute("lang", language)
    switch = page.locator("header form.lang")
    pressed = {"fr": "Français", "en": "English"}[language]
    expect(switch.get_by_role("button", name=pressed, pressed=True)).to_have_count(1)
    menu = {"fr": "Lieux et machines", "en": "Places and machines"}[language]
    expect(page.get_by_role("navigation").get_by_role("link", name=menu)).to_be_visible()


def switch_to(page, name: str) -> None:
    page.locator("header form.lang").get_by_role("button", name=name).click()


def language_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "lang"), None)


def test_a_browser_asking_for_french_sees_french(browser, live_server):
    with page_in(browser, "fr-FR") as page:
        page.goto(live_server + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME_FR)
        expect_language(page, "fr")
        expect(page.get_by_role("link", name="Se connecter")).to_be_visible()


def test_a_browser_asking_for_english_sees_english(browser, live_server):
    with page_in(browser, "en-GB") as page:
        page.goto(live_server + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME_EN)
        expect_language(page, "en")
        expect(page.get_by_role("link", name="Log in")).to_be_visible()
        expect(page.get_by_role("link", name="Skip to content")).to_have_count(1)
        assert language_cookie(page) is None, "following the browser's language sets no cookie"


def test_the_switch_changes_the_language_and_it_stays(browser, live_server):
    with page_in(browser, "fr-FR") as page:
        page.goto(live_server + "/")
        expect_language(page, "fr")

        switch_to(page, "English")
        expect(page).to_have_url(live_server + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME_EN)
        expect_language(page, "en")
        assert language_cookie(page) == "en"

        # the next page, reached by a link, is still in English
        page.get_by_role("link", name=SITE, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(SITE)
        expect(page.get_by_role("heading", name="Opening hours")).to_be_visible()
        expect_language(page, "en")

        # switching back from that page stays on it, in French
        switch_to(page, "Français")
        expect(page).to_have_url(re.compile(r"/sites/fabriques-du-ponant$"))
        expect(page.get_by_role("heading", name="Horaires d'ouverture")).to_be_visible()
        expect_language(page, "fr")
        assert language_cookie(page) == "fr"


def log_in_as_maiwenn(page, base: str) -> None:
    """The login form as a French-speaking browser shows it; the page after it may be English."""
    page.goto(f"{base}/login")
    page.get_by_label("Nom d'utilisateur").fill("maiwenn")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.locator("main").get_by_role("button", name="Se connecter").click()


def test_a_maker_keeps_english_after_logging_out_and_in(browser, live_server):
    with page_in(browser, "fr-FR") as page:
        login(page, live_server, "maiwenn")
        switch_to(page, "English")
        expect_language(page, "en")
        expect(page.get_by_role("link", name="My bookings")).to_be_visible()

        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("link", name="Log in")).to_be_visible()
        expect_language(page, "en")

    # a fresh browser (no cookie) asking for French: the account's choice wins once logged in
    with page_in(browser, "fr-FR") as page:
        page.goto(live_server + "/")
        expect_language(page, "fr")
        log_in_as_maiwenn(page, live_server)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        expect_language(page, "en")
        assert language_cookie(page) is None, "English here comes from the account, not a cookie"
        page.get_by_role("link", name="My account").click()
        expect(page.get_by_role("radio", name="English")).to_be_checked()

        # back to French, saved on the account too: the next login is in French again
        switch_to(page, "Français")
        expect_language(page, "fr")
        page.get_by_role("button", name="Se déconnecter").click()
    with page_in(browser, "en-GB") as page:
        page.goto(f"{live_server}/login")
        expect_language(page, "en")
        page.get_by_label("Username").fill("maiwenn")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.locator("main").get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        expect_language(page, "fr")


def test_english_home_and_machine_pages_pass_axe(browser, live_server):
    with page_in(browser, "en-GB") as page:
        problems = []
        page.goto(live_server + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text(HOME_EN)
        if violations := axe_violations(page):
            problems.append(f"home:\n{describe_violations(violations)}")
        page.get_by_role("link", name=PRINTER, exact=True).first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(PRINTER)
        expect(page.get_by_role("heading", name="This week's slots")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        if violations := axe_violations(page):
            problems.append(f"machine ({page.url}):\n{describe_violations(violations)}")
        assert not problems, "axe found accessibility violations:\n" + "\n".join(problems)
