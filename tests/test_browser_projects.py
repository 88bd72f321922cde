"""In a real browser: a maker creates a project, adds a step with a photo and sees it;
axe finds no WCAG A/AA violation on the projects' pages at desktop and phone width."""

from __future__ import annotations

import re
import uuid

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
from tests.projects_support import png

# The fixtures, bound in this module so pytest finds them (pytest_plugins is root-only).
browser, live_server = browser_support.browser, browser_support.live_server

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then fails under CI and skips elsewhere, with a message
    expect = None

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def create_project(page, base: str, title: str) -> str:
    page.goto(f"{base}/projects/new")
    page.get_by_label("Titre").fill(title)
    page.get_by_label("En une phrase").fill("Un porte-clés gravé pour la fête de quartier")
    page.get_by_label("Mots-clés").fill("bois, gravure")
    page.get_by_role("button", name="Créer le projet").click()
    expect(page).to_have_url(re.compile(r"/projects/[a-z0-9-]+\?done=created"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return page.url.split("/projects/")[1].split("?")[0]


def test_maker_creates_a_project_and_adds_a_step_with_a_photo(browser, live_server):
    title = f"Porte-clés gravé {uuid.uuid4().hex[:6]}"
    with open_page(browser) as page:
        login(page, live_server, "maiwenn")
        create_project(page, live_server, title)
        page.get_by_role("link", name="Ajouter une étape").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ajouter une étape")
        page.get_by_label("Titre de l'étape (facultatif)").fill("Gravure du logo")
        page.get_by_label("Ce que vous avez fait").fill("Gravé à **30 %** de puissance.")
        page.get_by_label("Photos et fichiers (facultatif)").set_input_files(
            files=[{"name": "gravure.png", "mimeType": "image/png", "buffer": png(320, 240, (30, 110, 170))}])
        page.get_by_label("Ce qu'on voit sur les photos (facultatif)").fill("Le porte-clés gravé")
        page.get_by_role("button", name="Ajouter l'étape").click()

        expect(page).to_have_url(re.compile(r"\?done=step#step-\d+"))
        step = page.locator("ol.steps > li").last
        expect(step.get_by_role("heading")).to_contain_text("Gravure du logo")
        expect(step.locator("strong")).to_have_text("30 %")
        photo = step.get_by_role("img", name="Le porte-clés gravé")
        expect(photo).to_be_visible()
        assert photo.evaluate("img => img.complete && img.naturalWidth") > 0, "the thumbnail did not load"
        with page.expect_navigation():
            photo.click()  # the thumbnail links to the full photo
        assert page.url.rstrip("/").split("/")[-1].isdigit()

        page.goto(f"{live_server}/projects?q={title.split()[-1]}")
        expect(page.get_by_role("link", name=title)).to_be_visible()


@VIEWPORTS
def test_projects_pages_have_no_axe_violations(browser, live_server, viewport):
    with open_page(browser, viewport) as page:
        page.goto(f"{live_server}/projects")
        demo = page.locator(".project-card h3 a").first.get_attribute("href")
        pages = {"gallery": "/projects", "filtered gallery": "/projects?tag=bois&status=done",
                 "demo project": demo}
        login(page, live_server, "maiwenn")
        slug = create_project(page, live_server, f"Étagère {uuid.uuid4().hex[:6]}")
        pages.update({
            "new project": "/projects/new", "my projects": "/me/projects", "project": f"/projects/{slug}",
            "edit": f"/projects/{slug}/edit", "new step": f"/projects/{slug}/steps/new",
            "people": f"/projects/{slug}/members", "bookings": f"/projects/{slug}/bookings",
        })
        problems = []
        for name, path in pages.items():
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, (name, path, response and response.status)
            violations = axe_violations(page)
            if violations:
                problems.append(f"{name} ({path}):\n{describe_violations(violations)}")
    with open_page(browser, viewport) as page:
        login(page, live_server, "gwen")
        path = f"{demo}/usage"
        response = page.goto(live_server + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        violations = axe_violations(page)
        if violations:
            problems.append(f"walk-in uses ({path}):\n{describe_violations(violations)}")
    assert not problems, "axe found accessibility violations:\n" + "\n".join(problems)


def test_the_demo_gallery_shows_its_cover_photos(browser, live_server):
    with open_page(browser, DESKTOP) as page:
        page.goto(f"{live_server}/projects")
        covers = page.locator("img.project-thumb")
        expect(covers.first).to_be_visible()
        covers.first.scroll_into_view_if_needed()
        page.wait_for_function("() => [...document.querySelectorAll('img.project-thumb')]"
                               ".every(img => img.complete)")
        widths = covers.evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
        assert widths and all(w > 0 for w in widths), f"a demo cover did not load: {widths}"
