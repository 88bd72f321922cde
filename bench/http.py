"""Web throughput: Fabbooking's pages and API beside a Litestar hello world, same machine, same run.

    .venv/bin/python bench/http.py                          # SQLite, wrk -t2 -c32 -d10s per path
    .venv/bin/python bench/http.py --database postgres      # a fresh PostgreSQL database
    .venv/bin/python bench/http.py --root /tmp/fabbooking-baseline --duration 5

It serves the demo as the README does (a scratch FABBOOKING_VAR_DIR, ``fabbooking demo``,
then ``fabbooking serve`` with its embedded broker on a free port), from the checkout named by
``--root`` (cwd and PYTHONPATH; the project's .venv), and a Litestar hello world under uvicorn
(one worker). Each path is loaded with wrk (else a bundled asyncio generator) between two runs
of the hello world, and compared with their mean req/s: the machine is shared, the ratio holds.

The last path books: 16 clients POST /api/v1/bookings on distinct free slots (every free
slot of every demo machine in the coming weeks, each for one of many makers holding every
training, three per maker and site, as the quota allows), compared with an echo POST of the
same bodies. Exit code 0 even when a goal is missed: it is a measurement, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: keep its folder from shadowing the standard library's http.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH] + [str(_BENCH)]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from urllib.parse import quote  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import _load  # noqa: E402
import _server  # noqa: E402
import _slots  # noqa: E402
import httpx  # noqa: E402

PASSWORD = "fabbooking"
PARIS = ZoneInfo("Europe/Paris")
READ_CONNECTIONS = 32
POST_CONNECTIONS = 16
PER_SITE_QUOTA = 3  # BookingRules.max_future_bookings, the demo's default
# The demo's ten machines have ~6,000 free slots in their booking horizon: 600 bookings/s for
# 10 s. More machines per site (3D printers, added by the admin before the POST run) leave room
# for a faster server; the read paths are measured before they exist.
EXTRA_MACHINES_PER_SITE = 4


@dataclass(frozen=True)
class Path_:
    name: str
    url: str
    goal_percent: float
    goal_p99_ms: float
    headers: dict[str, str] | None = None


@dataclass
class Row:
    name: str
    run: _load.Run
    reference: float  # mean req/s of the hello world (or echo POST) before and after
    goal_percent: float
    goal_p99_ms: float
    want_no_errors: bool = False

    @property
    def percent(self) -> float:
        return 100 * self.run.rate / self.reference if self.reference else 0.0

    @property
    def passed(self) -> bool:
        errors_ok = not self.want_no_errors or (self.run.non_2xx == 0 and not self.run.bodies_ran_out)
        return self.percent >= self.goal_percent and self.run.p99_ms <= self.goal_p99_ms and errors_ok


def next_week() -> tuple[str, str]:
    """Next Monday 00:00 to the Monday after, Brest time, with their offset, URL-encoded."""
    today = datetime.now(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=PARIS)
    end = start + timedelta(days=7)  # wall-clock arithmetic: midnight, whatever the offset
    return quote(start.isoformat(), safe=":"), quote(end.isoformat(), safe=":")


def token_for(base: str, username: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["token"]


def session_cookie(base: str, username: str) -> str:
    """The Cookie header of a browser logged in through the form (CSRF token included)."""
    with httpx.Client(base_url=base) as http:
        http.get("/login")
        response = http.post("/login", data={"_csrf_token": http.cookies.get("fabbooking_csrf"),
                                             "username": username, "password": PASSWORD, "next": "/"})
        if response.status_code != 303:
            raise RuntimeError(f"login as {username} answered {response.status_code}")
        return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


def read_paths(base: str) -> list[Path_]:
    start, end = next_week()
    bearer = {"Authorization": f"Bearer {token_for(base, 'yannick')}"}
    return [
        Path_("GET /api/v1/machines/2/availability (one week)",
              f"{base}/api/v1/machines/2/availability?start={start}&end={end}", 30, 50),
        Path_("machine week page /machines/2", f"{base}/machines/2", 20, 50),
        Path_("home page /", f"{base}/", 20, 50),
        Path_("site page /sites/fabriques-du-ponant", f"{base}/sites/fabriques-du-ponant", 20, 50),
        Path_("GET /api/v1/bookings?mine=true (Bearer)", f"{base}/api/v1/bookings?mine=true", 30, 50,
              bearer),
        Path_("my bookings /me/bookings (maker)", f"{base}/me/bookings", 20, 50,
              {"Cookie": session_cookie(base, "yannick")}),
        Path_("desk /desk/fabriques-du-ponant (animator)", f"{base}/desk/fabriques-du-ponant", 20, 50,
              {"Cookie": session_cookie(base, "gwen")}),
    ]


def check_answers(paths: list[Path_]) -> None:
    """Every path answers 200 before it is loaded: a redirect to the login page is not a page."""
    with httpx.Client() as http:
        for path in paths:
            response = http.get(path.url, headers=path.headers or {})
            if response.status_code != 200:
                raise RuntimeError(f"{path.url} answered {response.status_code}: {response.text[:300]}")


# --- the POST plan: distinct free slots, makers enough for the quota ------------------

# run inside the measured checkout's process: its own code makes the makers (bench/_makers.py)
MAKERS_SETUP = f"""
import asyncio, json, sys
sys.path.append({str(_BENCH)!r})  # appended: this folder's http.py must not shadow the standard library's
from _makers import bench_makers
print(json.dumps(asyncio.run(bench_makers(int(sys.argv[1])))))
"""


def add_machines(base: str, per_site: int) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token_for(base, 'admin')}"}) as http:
        training = next(t["id"] for t in http.get("/api/v1/trainings").raise_for_status().json()
                        if "3d_printer" in t["unlocks_kinds"])
        sites = [site["slug"] for site in http.get("/api/v1/sites").raise_for_status().json()]
        for body in _slots.extra_printers(sites, training, per_site):
            http.post("/api/v1/machines", json=body).raise_for_status()


def free_slots(base: str) -> list[_slots.Slot]:
    """(machine, site, start, end) of every free slot of every bookable machine, from an hour
    from now to a day before the booking horizon, machines interleaved."""
    now = datetime.now(PARIS)
    per_machine = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for machine in http.get("/api/v1/machines").raise_for_status().json():
            if machine["status"] != "available":
                continue
            start, end = _slots.horizon(machine, now)
            free = http.get(f"/api/v1/machines/{machine['id']}/availability",
                            params={"start": start.isoformat(), "end": end.isoformat()}
                            ).raise_for_status().json()
            per_machine.append(_slots.machine_slots(machine, free, start))
    return _slots.interleaved(per_machine)


def write_bodies(root: Path, env: dict[str, str], slots: list, path: Path) -> int:
    """One line per slot, ``token<TAB>json``, its maker holding at most three at its site."""
    makers = _slots.makers_of(slots, PER_SITE_QUOTA)
    count = max(makers, default=-1) + 1
    tokens = json.loads(_server.run_python(root, env, "-c", MAKERS_SETUP, str(count)))
    with path.open("w") as out:
        for (machine, _, start, end), maker in zip(slots, makers, strict=True):
            body = json.dumps({"machine_id": machine, "start": start.isoformat(), "end": end.isoformat()},
                              separators=(",", ":"))
            out.write(f"{tokens[maker]}\t{body}\n")
    return count


# --- running ---------------------------------------------------------------------------

def measure(name: str, url: str, args: argparse.Namespace, connections: int = READ_CONNECTIONS,
            headers: dict[str, str] | None = None, bodies: Path | None = None) -> _load.Run:
    run = _load.load(url, connections, args.duration, headers, bodies, use_wrk=not args.no_wrk)
    print(f"  {name:<52} {run.rate:8.0f} req/s  p99 {run.p99_ms:7.1f} ms"
          f"{f'  non-2xx {run.non_2xx}' if run.non_2xx else ''}"
          f"{'  (slots ran out)' if run.bodies_ran_out and url.endswith('/api/v1/bookings') else ''}",
          flush=True)
    return run


def server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    listing = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    pid = re.search(r"pid=(\d+)", listing)
    if pid is None:
        raise SystemExit(f"no process found listening on port {port}")
    return int(pid.group(1))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time so far of a process and its children (``--workers``: the
    worker processes), threads included."""
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    family, ticks = {pid}, 0
    for candidate in sorted(stats):  # children have higher pids than their parent here
        parent, used = stats[candidate]
        if candidate == pid or parent in family:
            family.add(candidate)
            ticks += used
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def profiled(base: str, output: Path | None, duration: float) -> Iterator[list[float]]:
    """The web process's CPU seconds while the block runs (yielded list, filled at the end);
    py-spy records it too when ``output`` is given."""
    pid = server_pid(base)
    spy = None
    if output is not None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        spy = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", f"{duration:.0f}",
                                "--format", "raw", "--output", str(output), "--gil"],
                               stdout=subprocess.DEVNULL)
    used: list[float] = []
    before = cpu_seconds(pid)
    try:
        yield used
    finally:
        used.append(cpu_seconds(pid) - before)
        if spy is not None:
            spy.wait(timeout=duration + 60)
            print(f"  py-spy profile of the POST run: {output}", flush=True)


def bench(args: argparse.Namespace, workdir: Path, database_url: str | None) -> list[Row]:
    rows = []
    with _server.hello_world_server(workdir) as hello, \
            _server.demo_server(args.root, workdir, database_url, args.workers) as base:
        paths = read_paths(base) if args.only != "post" else []
        check_answers(paths)
        hello_rate = measure("hello world GET /", f"{hello}/", args).rate if paths else 0.0
        for path in paths:
            run = measure(path.name, path.url, args, headers=path.headers)
            after = measure("hello world GET /", f"{hello}/", args).rate
            rows.append(Row(path.name, run, (hello_rate + after) / 2, path.goal_percent, path.goal_p99_ms))
            hello_rate = after
        if args.only == "reads":
            return rows

        add_machines(base, args.post_extra_machines)
        slots = free_slots(base)
        if args.post_slots:
            slots = slots[:args.post_slots]
        bodies = workdir / "bookings.tsv"
        makers = write_bodies(args.root, _server.checkout_env(args.root, workdir, database_url),
                              slots, bodies)
        print(f"  POST plan: {len(slots)} distinct free slots on "
              f"{len({s[0] for s in slots})} machines for {makers} makers", flush=True)
        echo_before = measure("echo POST /echo", f"{hello}/echo", args, POST_CONNECTIONS, bodies=bodies).rate
        with profiled(base, args.py_spy, args.duration) as used:
            run = measure("POST /api/v1/bookings", f"{base}/api/v1/bookings", args, POST_CONNECTIONS,
                          bodies=bodies)
        answered = run.rate * args.duration
        print(f"  web process(es) CPU during the POST run: {used[0] / args.duration:.0%} of a core, "
              f"{1000 * used[0] / max(answered, 1):.2f} ms a booking", flush=True)
        echo_after = measure("echo POST /echo", f"{hello}/echo", args, POST_CONNECTIONS, bodies=bodies).rate
        rows.append(Row(f"POST /api/v1/bookings ({POST_CONNECTIONS} clients, {len(slots)} slots)", run,
                        (echo_before + echo_after) / 2, 15, 100, want_no_errors=True))
        for sample in run.samples:
            print(f"    refused: {sample}")
    return rows


def report(rows: list[Row], title: str) -> None:
    print(f"\n{title}\n")
    print("| path | req/s | p99 | % of hello world | goal | |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for row in rows:
        reference = "echo POST" if row.want_no_errors else "hello world"
        goal = f"≥ {row.goal_percent:g} %, p99 ≤ {row.goal_p99_ms:g} ms"
        extra = ""
        if row.want_no_errors:
            goal += ", 0 errors"
            extra = f", {row.run.non_2xx} non-2xx" + (", slots ran out" if row.run.bodies_ran_out else "")
        print(f"| {row.name} | {row.run.rate:,.0f} | {row.run.p99_ms:,.0f} ms | "
              f"{row.percent:.1f} % of {reference} ({row.reference:,.0f} req/s){extra} | {goal} | "
              f"{'PASS' if row.passed else 'MISS'} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=_server.DEFAULT_ROOT,
                        help="the checkout whose code is served (default: this one)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres: a fresh database on FABBOOKING_TEST_POSTGRES_URL's server, dropped after")
    parser.add_argument("--duration", type=float, default=10, help="seconds per run (default 10)")
    parser.add_argument("--post-slots", type=int, default=0,
                        help="at most this many slots for the POST run (default: every free slot)")
    parser.add_argument("--post-extra-machines", type=int, default=EXTRA_MACHINES_PER_SITE,
                        help="3D printers added per site before the POST run, for more free slots "
                        f"(default {EXTRA_MACHINES_PER_SITE})")
    parser.add_argument("--no-wrk", action="store_true", help="use the bundled Python load generator")
    parser.add_argument("--workers", type=int, default=1,
                        help="fabbooking serve --workers N (default 1, as the README runs it)")
    parser.add_argument("--only", choices=["reads", "post"], default=None,
                        help="measure only the read paths, or only the POST")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="FILE",
                        help="record the web process with py-spy during the POST run (raw format)")
    args = parser.parse_args()
    args.root = args.root.resolve()
    if args.database == "postgres" and not _server.postgres_reachable():
        print(f"PostgreSQL is not reachable at {_server.POSTGRES_ADMIN_URL}", file=sys.stderr)
        return 2
    generator = f"wrk -t2 -c{READ_CONNECTIONS} -d{args.duration:g}s" if _load.WRK and not args.no_wrk \
        else f"bundled asyncio generator, {READ_CONNECTIONS} connections, {args.duration:g}s"
    print(f"{_server.machine_description(args.database == 'postgres')}\n"
          f"code: {args.root} at {_server.git_commit(args.root)}; {args.database}; {generator}; "
          f"{args.workers} web process(es)", flush=True)
    workdir = _server.scratch_dir("fabbooking-http-")
    try:
        with _server.database(args.database, workdir, "fabbooking_bench_http") as url:
            rows = bench(args, workdir, url if args.database == "postgres" else None)
    finally:
        _server.remove(workdir)
    report(rows, f"{args.database}, {datetime.now():%Y-%m-%d %H:%M}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
