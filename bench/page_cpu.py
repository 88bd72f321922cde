"""CPU per page, in process: the pages with their kept copies (fabbooking/web/page_cache.py)
and without (FABBOOKING_PAGE_CACHE=off), interleaved, on the demo's data (SQLite).

    .venv/bin/python bench/page_cpu.py [--requests 400] [--rounds 3] [--concurrency 8]

No HTTP server: each request goes through the whole ASGI app (the request observer, the page
cache, Litestar's middleware and hooks, the handler, Jinja2) with httpx's ASGI transport, on
this process's event loop. Prints milliseconds of this process's CPU time per request
(``time.process_time``, all threads: SQLite's pooled connections included), the best round
of each; the machine is shared, so CPU time says more than the wall clock. Only reads run,
so with the cache on every request after the first of each minute is a kept page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

WORKDIR = Path(tempfile.mkdtemp(prefix="fabbooking-page-cpu-"))
os.environ["FABBOOKING_VAR_DIR"] = str(WORKDIR)
os.environ["FABBOOKING_DATABASE_URL"] = f"sqlite:///{WORKDIR}/demo.sqlite3"
os.environ["FABBOOKING_LISTENER"] = "off"

PATHS = {
    "home /": ("/", None),
    "machine week /machines/2": ("/machines/2", None),
    "site /sites/fabriques-du-ponant": ("/sites/fabriques-du-ponant", None),
    "my bookings /me/bookings (yannick)": ("/me/bookings", "yannick"),
    "desk /desk/fabriques-du-ponant (gwen)": ("/desk/fabriques-du-ponant", "gwen"),
}
HEADERS = {"accept-encoding": "gzip", "accept-language": "fr-FR,fr;q=0.9"}


async def cookies_of(client, username: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": "fabbooking"})
    response.raise_for_status()
    return dict(client.cookies)


async def per_request_ms(client, path: str, cookies: dict[str, str], requests: int, concurrency: int) -> float:
    async def one() -> None:
        response = await client.get(path, headers=HEADERS, cookies=cookies)
        assert response.status_code == 200, (path, response.status_code)

    await one()
    started = time.process_time()
    for _ in range(requests // concurrency):
        await asyncio.gather(*(one() for _ in range(concurrency)))
    return (time.process_time() - started) / (requests // concurrency * concurrency) * 1000


async def main(args: argparse.Namespace) -> None:
    import httpx

    from fabbooking.app import create_app

    apps = {}
    for state in ("off", "on"):
        os.environ["FABBOOKING_PAGE_CACHE"] = state
        apps[state] = create_app(use_pool=False, run_usage=False)
    best: dict[tuple[str, str], float] = {}
    clients = {state: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")
               for state, app in apps.items()}
    people = {name: await cookies_of(clients["off"], name) for name in ("yannick", "gwen")}
    for client in clients.values():
        client.cookies.clear()
    for round_ in range(args.rounds):
        for name, (path, who) in PATHS.items():
            for state in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                ms = await per_request_ms(clients[state], path, people.get(who or "", {}), args.requests,
                                          args.concurrency)
                best[name, state] = min(best.get((name, state), float("inf")), ms)
    for client in clients.values():
        await client.aclose()
    raw = {path: await raw_asgi_us(apps["on"], path, args.requests * 5) for path in ("/machines/2", "/healthz")}
    print(f"CPU per request, best of {args.rounds} rounds of {args.requests} requests, {args.concurrency} at a time; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| page | cache off | cache on | |")
    print("| --- | ---: | ---: | ---: |")
    for name in PATHS:
        off, on = best[name, "off"], best[name, "on"]
        print(f"| {name} | {off:.2f} ms | {on:.3f} ms | ÷{off / on:.0f} |")
    print("\n(with httpx's client side in each figure.) Without it, the app called directly as an "
          f"ASGI app by a visitor without cookies: a kept /machines/2 {raw['/machines/2']:.0f} µs, "
          f"Litestar's /healthz {raw['/healthz']:.0f} µs.")


async def raw_asgi_us(app, path: str, requests: int) -> float:
    """CPU per request of the app called directly, as uvicorn calls it (no client, no HTTP)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"127.0.0.1:8000"), (b"accept-encoding", b"gzip"),
                         (b"accept-language", b"fr-FR,fr;q=0.9"), (b"user-agent", b"wrk")]}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, (path, message["status"])

    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(requests):
            await app(dict(scope, headers=list(scope["headers"])), receive, send)
        best = min(best, (time.process_time() - started) / requests * 1e6)
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    try:
        subprocess.run([sys.executable, "-m", "fabbooking", "demo"], check=True, capture_output=True,
                       env=os.environ, cwd=_BENCH.parent, timeout=600)
        asyncio.run(main(arguments))
    finally:
        shutil.rmtree(WORKDIR, ignore_errors=True)
