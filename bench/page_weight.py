"""Page weight: what a first visit transfers, page by page, against a budget.

    .venv/bin/python bench/page_weight.py              # starts its own demo server
    .venv/bin/python bench/page_weight.py --base URL   # a running server with the demo data

Every request says ``Accept-Encoding: gzip``; sizes are the bytes on the wire (the body as
sent, gzip when the server compresses it). A full page counts its HTML plus the CSS and JS
it references (a first visit, empty cache); an htmx fragment (``HX-Request: true``) counts
only itself. Static files must come back gzip-compressed with a Cache-Control max-age.
Budget: 60 KB per full page, 8 KB per fragment (1 KB = 1000 bytes). Exit code 1 when
anything is over budget or a static file is not compressed or cacheable.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAGE_BUDGET = 60_000
FRAGMENT_BUDGET = 8_000
PASSWORD = "fabbooking"
ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src|img[^>]+src)="(/[^"]+)"')


def next_monday() -> str:
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    return (today + timedelta(days=7 - today.weekday())).isoformat()


class Meter:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, headers={"Accept-Encoding": "gzip",
                                                         "Accept-Language": "fr"})
        self.assets: dict[str, httpx.Response] = {}
        self.rows: list[tuple[str, str, int, int, bool]] = []  # who, what, bytes, budget, ok

    def wire(self, path: str, **headers: str) -> tuple[httpx.Response, int]:
        response = self.http.get(path, headers=headers)
        response.read()
        return response, response.num_bytes_downloaded

    def page(self, who: str, name: str, path: str, status: int = 200) -> str:
        response, size = self.wire(path)
        assert response.status_code == status, f"{path} answered {response.status_code}"
        parts = [f"html {size / 1000:.1f}"]
        total = size
        for asset in dict.fromkeys(ASSET.findall(response.text)):
            if asset not in self.assets:
                self.assets[asset] = self.wire(asset)
            total += self.assets[asset][1]
            parts.append(f"{asset.rsplit('/', 1)[-1]} {self.assets[asset][1] / 1000:.1f}")
        self.record(who, f"page: {name}", total, PAGE_BUDGET, f"{' + '.join(parts)}  {path}")
        return response.text

    def fragment(self, who: str, name: str, path: str) -> None:
        response, size = self.wire(path, **{"HX-Request": "true"})
        assert response.status_code == 200 and "<html" not in response.text, f"{path} is not a fragment"
        self.record(who, f"fragment: {name}", size, FRAGMENT_BUDGET, path)

    def record(self, who: str, what: str, size: int, budget: int, detail: str) -> None:
        ok = size <= budget
        self.rows.append((who, what, size, budget, ok))
        print(f"{'PASS' if ok else 'OVER'}  {who:<9} {what:<28} {size / 1000:5.1f} KB"
              f" / {budget // 1000} KB  {detail}")

    def login(self, username: str) -> None:
        self.http.cookies.clear()
        self.http.get("/login")
        response = self.http.post("/login", data={
            "_csrf_token": self.http.cookies.get("fabbooking_csrf"), "username": username,
            "password": PASSWORD, "next": "/"})
        assert response.status_code == 303, f"login as {username} failed ({response.status_code})"

    def check_static(self) -> bool:
        ok = True
        for path, (response, size) in self.assets.items():
            gzip = response.headers.get("content-encoding") == "gzip"
            max_age = re.search(r"max-age=(\d+)", response.headers.get("cache-control", ""))
            good = gzip and bool(max_age) and int(max_age.group(1)) > 0
            ok &= good
            print(f"{'PASS' if good else 'FAIL'}  static    {path:<28} {size / 1000:5.1f} KB  "
                  f"content-encoding={response.headers.get('content-encoding')} "
                  f"cache-control={response.headers.get('cache-control')}")
        return ok


def measure(base: str) -> bool:
    meter = Meter(base)
    home = meter.page("anonymous", "home", "/")
    machine = re.search(r'href="(/machines/\d+)">Imprimante 3D Prusa MK4 n° 1<', home).group(1)
    week = f"{machine}?week={next_monday()}"
    meter.page("anonymous", "site", "/sites/fabriques-du-ponant")
    meter.page("anonymous", "machine week", machine)
    meter.page("anonymous", "login", "/login")
    meter.page("anonymous", "page not found", "/no/such/page", status=404)
    meter.fragment("anonymous", "next week's grid", week)
    gallery = meter.page("anonymous", "projects gallery", "/projects")
    project = re.search(r'href="(/projects/[a-z0-9-]+)"', gallery).group(1)
    meter.page("anonymous", "project page", project)
    meter.page("anonymous", "workshops calendar", "/workshops")
    meter.page("anonymous", "network figures", "/figures")
    meter.page("anonymous", "site figures", "/figures/fabriques-du-ponant")
    meter.page("anonymous", "open data", "/open-data")

    meter.login("maiwenn")
    meter.page("maker", "home", "/")
    week_page = meter.page("maker", "machine, next week", week)
    form = re.search(r'class="free" href="([^"]+)"', week_page).group(1).replace("&amp;", "&")
    meter.page("maker", "booking form", form)
    meter.fragment("maker", "booking form", form)
    meter.fragment("maker", "next week's grid", week)
    meter.page("maker", "my bookings", "/me/bookings")
    meter.page("maker", "my trainings", "/me/trainings")
    meter.page("maker", "my account", "/me/account")
    meter.page("maker", "my projects", "/me/projects")
    meter.page("maker", "new project", "/projects/new")
    meter.page("maker", "my calendar feed", "/me/calendar")

    # gwen runs one site: /desk sends her straight to it; samir runs two and chooses
    for username, pages in (("samir", {"desk": "/desk"}),
                            ("gwen", {"site desk": "/desk/fabriques-du-ponant",
                                      "desk: find a person": "/desk/fabriques-du-ponant/person?q=ma",
                                      "desk: book for someone": "/desk/fabriques-du-ponant/book",
                                      "site workshops": "/desk/fabriques-du-ponant/workshops",
                                      "log a workshop": "/desk/fabriques-du-ponant/workshops/log"}),
                            ("admin", {"network admin": "/manage", "people": "/manage/users"})):
        meter.login(username)
        for name, path in pages.items():
            if meter.http.get(path).status_code != 404:
                meter.page(username, name, path)
    static_ok = meter.check_static()
    over = [row for row in meter.rows if not row[4]]
    print(f"\n{len(meter.rows) - len(over)}/{len(meter.rows)} within budget; static files "
          f"{'gzip + max-age' if static_ok else 'NOT all gzip + max-age'}")
    return not over and static_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a running server with the demo data, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    if args.base:
        return 0 if measure(args.base.rstrip("/")) else 1
    sys.path.insert(0, str(ROOT))
    from tests.browser_support import demo_server, scratch_dir

    with demo_server(scratch_dir("fabbooking-bench-")) as base:
        return 0 if measure(base) else 1


if __name__ == "__main__":
    sys.exit(main())
