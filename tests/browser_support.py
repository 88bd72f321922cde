"""Real-browser test support: a live demo server, headless Chromium, login and axe.

Test modules bind the fixtures in their own namespace (pytest_plugins is only allowed in
the root conftest, which stays as it is):

    from tests import browser_support
    browser, live_server = browser_support.browser, browser_support.live_server

Each module that does so gets its own demo server (its data stays its own) and its own
Chromium (see ``browser``).

``demo_server`` is the same server as a plain context manager, for bench/ and tools/ scripts.
Chromium is Debian's (/usr/bin/chromium): ``playwright install`` is never needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import ROOT, free_port, missing_service, run_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DEMO_PASSWORD = "fabbooking"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERVER_START_TIMEOUT_S = 60


def next_monday() -> str:
    """Next week's Monday in Brest: all of that week's slots are in the future, whatever the
    day and hour the tests run, and well inside the 30 days one may book ahead."""
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    return (today + timedelta(days=7 - today.weekday())).isoformat()


def next_week() -> str:
    """The first day « Semaine suivante » shows: a week from today in Brest (a machine's
    week starts today)."""
    return (datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=7)).isoformat()


def wait_until_serving(base: str, process: subprocess.Popen, log: Path | None = None,
                       timeout: float = SERVER_START_TIMEOUT_S) -> None:
    """Poll /healthz until it answers 200, the process dies, or the deadline passes."""
    deadline = time.monotonic() + timeout
    with httpx.Client() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"fabbooking serve exited early (code {process.returncode}):\n"
                                     f"{log.read_text(errors='replace') if log else ''}")
            try:
                if http.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling interval, not a wait for something to happen
    raise AssertionError(f"{base} did not answer /healthz within {timeout}s")


@contextlib.contextmanager
def demo_server(workdir: Path, template: Path | None = None, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the demo network from a fresh SQLite file in ``workdir``; yield the base URL.

    ``template`` is an already migrated SQLite file to copy (the tests' sqlite_template);
    without it the file is migrated by ``fabbooking migrate``.
    """
    path = workdir / "demo.sqlite3"
    url = f"sqlite:///{path}"
    if template:
        shutil.copy(template, path)
    else:
        run_cli("migrate", url=url)
    # The demo's photos and the server must share one media folder.
    media = {"FABBOOKING_MEDIA_DIR": str(workdir / "media")}
    run_cli("demo", url=url, extra_env=media)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(workdir), **media,
           **(extra_env or {})}
    log = workdir / "serve.log"  # a file, not a pipe: a long session's log never fills a buffer
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "fabbooking", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real ``fabbooking serve`` process on the demo network."""
    with demo_server(tmp_path_factory.mktemp("live"), sqlite_template) as base:
        yield base


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through sync Playwright (missing: fails under CI, skips elsewhere).

    Module-scoped on purpose: while sync Playwright runs, its event loop looks "running" to
    asyncio, and every later anyio test of the session would fail. Stopping it at the end of
    each (sync-only) browser module gives the loop back; a launch costs under a second.
    """
    if not Path(CHROMIUM).exists():
        missing_service("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("Playwright is not installed (pip install playwright axe-playwright-python)")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def open_page(browser, viewport: dict | None = None, javascript: bool = True) -> Iterator:
    """A page in a fresh context (own cookies), in French whatever the machine's locale."""
    context = browser.new_context(viewport=viewport or DESKTOP, locale="fr-FR",
                                  java_script_enabled=javascript)
    try:
        yield context.new_page()
    finally:
        context.close()


def login(page, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real login form, as a person would."""
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    page.get_by_label("Nom d'utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.locator("main").get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def axe_violations(page) -> list[dict]:
    """axe-core's violations of WCAG 2.0/2.1 level A and AA rules on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    return Axe().run(page, options=options).response["violations"]


def describe_violations(violations: list[dict]) -> str:
    """One paragraph per violation: rule, what to do, and which elements."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']} "
                     f"[{violation.get('helpUrl', '')}]")
        for node in violation["nodes"][:8]:
            summary = " ".join(line.strip() for line in node.get("failureSummary", "").splitlines()[1:])
            lines.append(f"    at {' > '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def scratch_dir(prefix: str) -> Path:
    """A temporary directory for the scripts (the tests use tmp_path_factory)."""
    return Path(tempfile.mkdtemp(prefix=prefix))
