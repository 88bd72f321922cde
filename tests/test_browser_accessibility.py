"""axe-core finds no WCAG 2.0/2.1 A or AA violation on any page, at desktop and phone width.

Pages still being built (the animators' desk, the network admin's pages) are included as
soon as they answer: only a 404 leaves them out, with a message.
"""

from __future__ import annotations

import pytest

from tests import browser_support
from tests.browser_support import (
    DESKTOP,
    PHONE,
    axe_violations,
    describe_violations,
    login,
    next_monday,
    open_page,
)

# The fixtures, bound in this module so pytest finds them (pytest_plugins is root-only).
browser, live_server = browser_support.browser, browser_support.live_server

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
PRINTER = "Imprimante 3D Prusa MK4 n° 1"
ANIMATOR_SITE = "fabriques-du-ponant"
MAX_CRAWLED_PAGES = 40


def href(page, base: str, path: str, selector: str) -> str:
    page.goto(base + path)
    return page.locator(selector).first.get_attribute("href")


def check_pages(page, base: str, pages: dict[str, tuple[str, int]]) -> None:
    """Open each page, run axe, and fail once with every violation of every page."""
    problems = []
    for name, (path, status) in pages.items():
        response = page.goto(base + path)
        assert response is not None and response.status == status, (
            f"{name} ({path}) answered {response and response.status}, expected {status}")
        if "/login" not in path:
            assert "/login" not in page.url, f"{name} ({path}) sent to the login page"
        violations = axe_violations(page)
        if violations:
            problems.append(f"{name} ({path}):\n{describe_violations(violations)}")
    assert not problems, "axe found accessibility violations:\n" + "\n".join(problems)


def existing(page, base: str, paths: list[str]) -> list[str]:
    """The paths that answer something other than 404 (GET with the page's cookies)."""
    return [p for p in paths if page.request.get(base + p, max_redirects=0).status != 404]


@VIEWPORTS
def test_anonymous_pages(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        machine = href(page, live_server, "/", f'a:text-is("{PRINTER}")')
        check_pages(page, live_server, {
            "home": ("/", 200),
            "site": (f"/sites/{ANIMATOR_SITE}", 200),
            "machine": (machine, 200),
            "machine, next week": (f"{machine}?week={next_monday()}", 200),
            "login": ("/login?next=%2Fme%2Fbookings", 200),
            "sign-up": ("/signup", 200),
            "forgotten password": ("/password/forgotten", 200),
            "a reset link that no longer works": ("/password/reset/used-or-expired", 410),
            "not found": ("/no/such/page", 404),
        })


@VIEWPORTS
def test_maker_pages(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        login(page, live_server, "maiwenn")
        machine = href(page, live_server, "/", f'a:text-is("{PRINTER}")')
        form = href(page, live_server, f"{machine}?week={next_monday()}", "#week a.free")
        cancel = href(page, live_server, "/me/bookings", 'a[href$="/cancel"]')
        check_pages(page, live_server, {
            "booking form": (form, 200),
            "my bookings": ("/me/bookings", 200),
            "my bookings, just booked": ("/me/bookings?done=booked", 200),
            "cancel confirmation": (cancel, 200),
            "my trainings": ("/me/trainings", 200),
            "my account": ("/me/account", 200),
            "deleting my account": ("/me/account/delete", 200),
            "my e-mails": ("/me/notifications", 200),
            "my e-mails, link sent": ("/me/notifications?done=sent", 200),
            "machine, logged in": (machine, 200),
        })


@VIEWPORTS
def test_a_refusal_next_to_the_booking_form(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        login(page, live_server, "lea")  # no laser training
        machine = href(page, live_server, "/", 'a:text-is("Découpeuse laser Trotec Speedy 400")')
        page.goto(f"{live_server}{href(page, live_server, f'{machine}?week={next_monday()}', '#week a.free')}")
        page.get_by_role("button", name="Confirmer la réservation").click()
        page.get_by_role("alert").wait_for()
        violations = axe_violations(page)
        assert not violations, "axe found violations on the refused booking form:\n" + describe_violations(violations)


def page_kind(path: str) -> tuple:
    """Pages of one kind share a template: /manage/users/3 and /manage/users/4 are one kind."""
    parts = path.split("?")[0].strip("/").split("/")
    return tuple(parts[:2]), len(parts)


def crawl(page, base: str, start: list[str], depth: int = 2) -> list[str]:
    """``start``, then the pages under the same prefix they link to, one page of each kind."""
    prefix = "/" + start[0].strip("/").split("/")[0]
    queue, kinds, paths = [(path, 0) for path in start], set(), []
    while queue and len(paths) < MAX_CRAWLED_PAGES:
        path, level = queue.pop(0)
        if page_kind(path) in kinds:
            continue
        kinds.add(page_kind(path))
        paths.append(path)
        if level < depth:
            page.goto(base + path)
            links = page.locator(f'main a[href^="{prefix}"]').evaluate_all(
                "links => links.map(a => a.getAttribute('href'))")
            queue += [(link.split("#")[0], level + 1) for link in links if link.split("#")[0]]
    return paths


@VIEWPORTS
def test_animator_desk_pages(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        login(page, live_server, "gwen")
        start = existing(page, live_server, ["/desk", f"/desk/{ANIMATOR_SITE}"])
        if not start:
            pytest.skip("/desk and /desk/<site> answer 404: the animators' desk is not built yet")
        check_pages(page, live_server, {path: (path, 200) for path in crawl(page, live_server, start)})


@VIEWPORTS
def test_network_admin_pages(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        login(page, live_server, "admin")
        if not existing(page, live_server, ["/manage"]):
            pytest.skip("/manage answers 404: the network admin's pages are not built yet")
        check_pages(page, live_server, {path: (path, 200) for path in crawl(page, live_server, ["/manage"])})
