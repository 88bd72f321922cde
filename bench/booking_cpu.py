"""CPU per booking, in process: POST /api/v1/bookings through the whole ASGI app, without
HTTP, for one or more checkouts, interleaved, on the demo's data (SQLite).

    .venv/bin/python bench/booking_cpu.py [--root A --root B] [--bookings 3000] [--rounds 3]

``bench/http.py --only post`` measures the real thing (uvicorn, wrk, 16 clients), but on a
shared 2-core machine its CPU per booking moves by a third from one run to the next. This
measures only what the app spends: each checkout (its own code: cwd and PYTHONPATH; the
project's .venv) gets a fresh demo database with four more 3D printers per site and makers
holding every training, then books distinct free slots, 16 at a time, by calling the ASGI
app directly (the request observer, Litestar's middleware, the handler, the database; no
socket, no HTTP parser). Prints milliseconds of the process's CPU time per booking
(``time.process_time``, all threads: the SQLite commits included), each round and the best;
and beside it, in the same process, what an echo POST of the same bodies costs on a bare
Litestar app (the hello world of bench/http.py) and in this app (its middleware and hooks
around an echo under /api/v1).
Only SQLite: a PostgreSQL server's own CPU would not be counted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH] + [str(_BENCH)]

import _server  # noqa: E402

PROJECT = _BENCH.parent

# Run with the checkout's own code: the demo is there already (FABBOOKING_DATABASE_URL).
INNER = r'''
import asyncio, json, sys, time
from datetime import datetime
from zoneinfo import ZoneInfo

sys.path.append(sys.argv[2])  # bench/, for _slots (appended: its http.py must not shadow the stdlib's)
import _slots
from _makers import bench_makers

import httpx

from fabbooking.app import create_app

BOOKINGS, CONCURRENCY, QUOTA = int(sys.argv[1]), 16, 3


async def slots(http):
    now = datetime.now(ZoneInfo("Europe/Paris"))
    per_machine = []
    for machine in (await http.get("/api/v1/machines")).raise_for_status().json():
        if machine["status"] != "available":
            continue
        start, end = _slots.horizon(machine, now)
        free = (await http.get(f"/api/v1/machines/{machine['id']}/availability",
                               params={"start": start.isoformat(), "end": end.isoformat()})).raise_for_status().json()
        per_machine.append(_slots.machine_slots(machine, free, start))
    return _slots.interleaved(per_machine)


def post(app, token, body, path="/api/v1/bookings", method="POST"):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 50000), "server": ("bench", 80),
             "headers": [(b"host", b"bench"), (b"authorization", b"Bearer " + token.encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    answered = []

    async def receive():
        if answered:
            await asyncio.Event().wait()
        answered.append(None)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    async def run():
        await app(scope, receive, send)
        return answered[1]
    return run()


async def main():
    app = create_app(use_pool=False, run_usage=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
        admin = (await http.post("/api/v1/auth/token", json={"username": "admin", "password": "fabbooking"}))
        headers = {"Authorization": f"Bearer {admin.raise_for_status().json()['token']}"}
        training = next(t["id"] for t in (await http.get("/api/v1/trainings")).json() if "3d_printer" in t["unlocks_kinds"])
        sites = [site["slug"] for site in (await http.get("/api/v1/sites")).json()]
        for body in _slots.extra_printers(sites, training, 4):
            (await http.post("/api/v1/machines", headers=headers, json=body)).raise_for_status()
        planned = (await slots(http))[:BOOKINGS + 200]
    owners = _slots.makers_of(planned, QUOTA)
    tokens = await bench_makers(max(owners) + 1)
    bodies = [(tokens[o], json.dumps({"machine_id": m, "start": b.isoformat(), "end": e.isoformat()}).encode())
              for (m, _, b, e), o in zip(planned, owners)]
    if len(bodies) < BOOKINGS + 200:
        raise SystemExit(f"only {len(bodies)} free slots: ask for fewer bookings")
    queue = iter(bodies)
    statuses = []

    async def client():
        for token, body in queue:
            statuses.append(await post(app, token, body))

    warm, measured = bodies[:200], bodies[200:BOOKINGS + 200]
    queue = iter(warm)
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    queue = iter(measured)
    statuses.clear()
    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    used = time.process_time() - started
    refused = len([s for s in statuses if s != 201])
    floors = await floors_ms(app, bodies[:2000])
    print(json.dumps({"ms": used / len(measured) * 1000, "refused": refused, **floors}))


async def floors_ms(app, bodies):
    """What the same requests cost without the booking: an echo of the body on a bare
    Litestar app (the bench's hello world), and the same echo registered in this app under
    /api/v1 (the request observer, the page cache's pass-through, the NUL guard, Litestar's
    middleware and hooks; no viewer, no database)."""
    from litestar import Litestar, post as route

    @route("/echo", status_code=200)
    async def echo(data: dict) -> dict:
        return data

    @route("/api/v1/bench-echo", status_code=200)
    async def echo_here(data: dict) -> dict:
        return data

    bare = Litestar([echo])
    app.register(echo_here)
    found = {}
    for name, target, path, method, expected in (("echo_ms", bare, "/echo", "POST", 200),
                                                 ("stack_ms", app, "/api/v1/bench-echo", "POST", 200)):
        queue = iter(bodies)

        async def client():
            for token, body in queue:
                status = await post(target, token, body, path, method)
                assert status == expected, (name, status)

        started = time.process_time()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        found[name] = (time.process_time() - started) / len(bodies) * 1000
    return found


asyncio.run(main())
'''


def one_round(root: Path, bookings: int) -> dict:
    workdir = _server.scratch_dir("fabbooking-booking-cpu-")
    try:
        env = _server.checkout_env(root, workdir, None, FABBOOKING_LISTENER="off")
        _server.run_python(root, env, "-m", "fabbooking", "demo")
        result = subprocess.run([str(PROJECT / ".venv" / "bin" / "python"), "-c", INNER, str(bookings), str(_BENCH)],
                                cwd=root, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise SystemExit(f"{root}: {result.stderr[-2000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        _server.remove(workdir)


def refused_note(result: dict) -> str:
    return f", {result['refused']} refused" if result["refused"] else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", action="append", type=Path,
                        help="a checkout whose code is measured (repeat to compare; default: this one)")
    parser.add_argument("--bookings", type=int, default=3000, help="bookings measured per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each checkout in turn (default 3)")
    args = parser.parse_args()
    roots = [r.resolve() for r in (args.root or [PROJECT])]
    print(_server.machine_description(False))
    found: dict[Path, list[float]] = {root: [] for root in roots}
    for number in range(1, args.rounds + 1):
        for root in roots:
            result = one_round(root, args.bookings)
            found[root].append(result["ms"])
            print(f"  round {number}  {root} ({_server.git_commit(root)}): {result['ms']:.3f} ms a booking"
                  f"{refused_note(result)}; beside it, an echo POST on a bare Litestar app "
                  f"{result['echo_ms']:.3f} ms, the same echo in this app {result['stack_ms']:.3f} ms", flush=True)
    for root, values in found.items():
        print(f"best  {root} ({_server.git_commit(root)}): {min(values):.3f} ms of CPU a booking "
              f"(rounds: {', '.join(f'{v:.3f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
