"""Full-page screenshots of the main pages, at desktop (1280 px) and phone (375 px) width.

    .venv/bin/python tools/screenshots.py              # starts its own demo server
    .venv/bin/python tools/screenshots.py --base URL   # a running server with the demo data

Writes docs/screenshots/<name>-desktop.png and <name>-phone.png. Uses Debian's Chromium
(/usr/bin/chromium) through Playwright, like the browser tests; pages the server does not
have (404) are left out. The machine pages show next week, and the schedule next Tuesday
afternoon, so the grids have free cells.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_support import (
    DESKTOP,
    PHONE,
    demo_server,
    launch_chromium,
    login,
    next_monday,
    open_page,
    scratch_dir,
)

OUT = ROOT / "docs" / "screenshots"
SIZES = {"desktop": DESKTOP, "phone": PHONE}
PRINTER = "Imprimante 3D Prusa MK4 n° 1"


def schedule_path() -> str:
    """The schedule of next Tuesday afternoon: every demo place opens then, all of it to come."""
    tuesday = date.fromisoformat(next_monday()) + timedelta(days=1)
    return f"/schedule?day={tuesday.isoformat()}&period=afternoon"


def shoot(page, base: str, name: str, path: str, size: str) -> Path | None:
    response = page.goto(base + path)
    if response is None or response.status == 404:
        print(f"skip  {name}: {path} answers 404")
        return None
    target = OUT / f"{name}-{size}.png"
    page.screenshot(path=str(target), full_page=True, animations="disabled")
    print(f"wrote {target.relative_to(ROOT)}  ({path}, {target.stat().st_size // 1000} KB)")
    return target


def take_all(browser, base: str) -> list[Path]:
    written = []
    for size, viewport in SIZES.items():
        with open_page(browser, viewport) as page:
            page.goto(base + "/")
            machine = page.get_by_role("link", name=PRINTER, exact=True).first.get_attribute("href")
            week = f"{machine}?week={next_monday()}"
            written += [shoot(page, base, "home", "/", size),
                        shoot(page, base, "site", "/sites/fabriques-du-ponant", size),
                        shoot(page, base, "login", "/login", size)]
            login(page, base, "maiwenn")
            written.append(shoot(page, base, "schedule", schedule_path(), size))
            written.append(shoot(page, base, "machine", week, size))
            form = page.locator("#week a.free:visible").first.get_attribute("href")
            written += [shoot(page, base, "book", form, size),
                        shoot(page, base, "my-bookings", "/me/bookings", size),
                        shoot(page, base, "projects", "/projects", size),
                        shoot(page, base, "project", "/projects/lampe-de-chevet-en-contreplaque", size),
                        shoot(page, base, "workshops", "/workshops", size),
                        shoot(page, base, "figures", "/figures", size)]
        with open_page(browser, viewport) as page:
            login(page, base, "gwen")
            written += [shoot(page, base, "desk", "/desk/fabriques-du-ponant", size),
                        shoot(page, base, "log-workshop", "/desk/fabriques-du-ponant/workshops/log", size)]
            # booking for someone: Maïwenn chosen, the printer's free stretches on next Monday
            page.goto(f"{base}/desk/fabriques-du-ponant/person?q=maiwenn&then=book")
            chosen = page.locator("#person-results a").first.get_attribute("href")
            machine_id = machine.rsplit("/", 1)[-1]
            written.append(shoot(page, base, "desk-book", f"{chosen}&machine={machine_id}&day={next_monday()}", size))
        with open_page(browser, viewport) as page:
            login(page, base, "admin")
            written.append(shoot(page, base, "manage", "/manage", size))
    return [path for path in written if path]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a running server with the demo data, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        if args.base:
            written = take_all(browser, args.base.rstrip("/"))
        else:
            with demo_server(scratch_dir("fabbooking-screenshots-")) as base:
                written = take_all(browser, base)
        browser.close()
    print(f"{len(written)} screenshots in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
