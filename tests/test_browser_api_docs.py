"""The API's documentation page (/schema) works in a real browser under the app's
Content-Security-Policy, from the app's own files: no request leaves the server, no
script or style is refused. The back office (/admin), an app of its own that sets inline
styles, works under the same policy with only that allowed."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests import browser_support
from tests.browser_support import open_page

browser, live_server = browser_support.browser, browser_support.live_server

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None


def watch(page) -> tuple[list[str], list[str]]:
    """Console messages about refused content, and every address the page asked for."""
    refused: list[str] = []
    asked: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    page.on("request", lambda request: asked.append(request.url))
    return refused, asked


def test_the_api_docs_show_every_operation_from_our_own_files(browser, live_server):
    with open_page(browser) as page:
        refused, asked = watch(page)
        page.goto(f"{live_server}/schema")
        expect(page.get_by_text("Fabbooking API").first).to_be_visible()
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/bookings").first).to_be_visible()
        page.locator(".opblock-summary", has_text="/api/v1/sites").first.click()
        expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
        assert refused == []
        server = urlsplit(live_server).netloc
        assert {urlsplit(url).netloc for url in asked if not url.startswith("data:")} == {server}


def test_the_back_office_works_under_its_policy(browser, live_server):
    with open_page(browser) as page:
        refused, _ = watch(page)
        page.goto(f"{live_server}/admin/")
        expect(page.locator("input[type=password]")).to_be_visible()
        assert refused == []
