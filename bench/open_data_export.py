"""Open-data export: time and peak memory of streaming the whole network's CSV, one month
against twelve.

    .venv/bin/python bench/open_data_export.py                       # 10 sites, 50k bookings, SQLite
    .venv/bin/python bench/open_data_export.py --databases sqlite postgres
    .venv/bin/python bench/open_data_export.py --sites 10 --bookings 50000 --sessions 50000

The script migrates a temporary database (SQLite file; PostgreSQL database on
FABBOOKING_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres), fills
it with a year of a network (sites × 4 machines, makers, bookings with cancellations and
no-shows, usage sessions with walk-ins, workshops with attendance and registrations,
projects), then runs the exact generator that /open-data/monthly.csv streams
(``fabbooking.figures.services.csv_export``) for the last month and for the whole year,
reading every chunk as the server would send it. It prints rows, bytes, seconds and the
peak of Python memory allocated during the export (tracemalloc, in a second run: it slows
allocations down, so the time comes from a run without it), so
one can see that memory depends on a month's rows, not on the length of the period. It
also times the twelve months a dashboard reads, with a cold and a warm cache.

It is a script, not a test: run it when the figures or their queries change, and update the
section in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = Path(tempfile.mkdtemp(prefix="fabbooking-bench-opendata-"))
os.environ["FABBOOKING_DATABASE_URL"] = f"sqlite:///{_SCRATCH}/import.sqlite3"
os.environ.setdefault("FABBOOKING_VAR_DIR", str(_SCRATCH / "var"))
os.environ.pop("FABBOOKING_MQTT_URL", None)

from piccolo.engine.postgres import PostgresEngine  # noqa: E402

from fabbooking import database  # noqa: E402
from fabbooking.accounts.tables import Account  # noqa: E402
from fabbooking.bookings.tables import Booking  # noqa: E402
from fabbooking.figures import kept_months, services  # noqa: E402
from fabbooking.figures.monthly import Month  # noqa: E402
from fabbooking.network.tables import Machine, Site  # noqa: E402
from fabbooking.projects.tables import Project  # noqa: E402
from fabbooking.settings import parse_database_url  # noqa: E402
from fabbooking.usage.tables import UsageSession  # noqa: E402
from fabbooking.workshops.tables import Attendance, Registration, Workshop  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
KINDS = ("3d_printer", "3d_printer", "laser_cutter", "vinyl_cutter")
SLOTS = (9, 11, 14, 16)  # local hours; 90 minutes each, never overlapping
AUDIENCES = ("children", "teens", "adults", "seniors", "job_seekers", "school_groups", "other")
POSTGRES_ADMIN_URL = os.environ.get("FABBOOKING_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
BATCH = 500


def migrate(url: str) -> None:
    subprocess.run([sys.executable, "-m", "fabbooking", "migrate"], cwd=ROOT, check=True,
                   env={**os.environ, "FABBOOKING_DATABASE_URL": url}, capture_output=True)


async def insert_all(table, rows: list) -> None:
    for start in range(0, len(rows), BATCH):
        async with database.DB.transaction():
            await table.insert(*rows[start:start + BATCH])


async def fill(sites: int, bookings: int, sessions: int, now: datetime) -> dict[str, int]:
    rng = random.Random(5)
    site_ids, machines = [], []
    for n in range(sites):
        site = (await Site.insert(Site(slug=f"site-{n}", name=f"Lieu {n}")).returning(Site.id))[0]["id"]
        site_ids.append(site)
        for m, kind in enumerate(KINDS):
            machines.append((await Machine.insert(Machine(site=site, slug=f"m-{m}", name=f"Machine {m}", kind=kind)
                                                  ).returning(Machine.id))[0]["id"])
    password = Account.hash_password("bench-password")
    makers = [Account(username=f"maker{n}", password=password, display_name=f"Maker {n}",
                      email=f"maker{n}@example.org", active=True) for n in range(2000)]
    await insert_all(Account, makers)
    maker_ids = [r["id"] for r in await Account.select(Account.id)]
    first_day = (now.astimezone(PARIS) - timedelta(days=365)).date()
    slots = [(machine, first_day + timedelta(days=d), hour) for machine in machines
             for d in range(365) for hour in SLOTS]
    chosen = rng.sample(slots, min(bookings, len(slots)))
    booking_rows, session_rows = [], []
    for index, (machine, day, hour) in enumerate(chosen):
        start = datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).astimezone(UTC)
        end = start + timedelta(minutes=90)
        roll = rng.random()
        status = "cancelled" if roll < 0.08 else "no_show" if roll < 0.14 else "confirmed"
        maker = rng.choice(maker_ids)
        booking_rows.append(Booking(machine=machine, maker=maker, booked_by=maker, start_at=start, end_at=end,
                                    status=status, note=f"note {index}"))
        if status == "confirmed" and len(session_rows) < sessions:
            seconds = rng.uniform(1200, 5000)
            session_rows.append(UsageSession(
                key=f"{machine}:b{index}", machine=machine, job_key=f"b{index}", started_at=start,
                ended_at=start + timedelta(seconds=seconds), duration_s=seconds, outcome="completed",
                energy_wh=seconds / 36, file_name=f"part-{index}.gcode"))
    await insert_all(Booking, booking_rows)
    walk_in = 0
    while len(session_rows) < sessions:  # walk-ins at lunch time, between the booked slots
        machine, day, _hour = rng.choice(slots)
        start = datetime(day.year, day.month, day.day, 12, 45, tzinfo=PARIS).astimezone(UTC)
        seconds = rng.uniform(300, 4000)
        walk_in += 1
        session_rows.append(UsageSession(
            key=f"{machine}:w{walk_in}", machine=machine, job_key=f"w{walk_in}", started_at=start,
            ended_at=start + timedelta(seconds=seconds), duration_s=seconds, outcome="completed",
            walk_in=True))
    await insert_all(UsageSession, session_rows)
    workshops = 0
    for site in site_ids:
        for week in range(52):
            start = datetime.combine(first_day + timedelta(days=7 * week + 2), datetime.min.time(),
                                     tzinfo=PARIS).replace(hour=18).astimezone(UTC)
            status = "done" if start < now else "planned"
            workshop = (await Workshop.insert(Workshop(
                site=site, title=f"Atelier {week}", starts_at=start, ends_at=start + timedelta(hours=2),
                status=status, notes="notes")).returning(Workshop.id))[0]["id"]
            workshops += 1
            await Attendance.insert(*[Attendance(workshop=workshop, audience=a, head_count=rng.randint(0, 9),
                                                 first_timers=rng.randint(0, 3)) for a in rng.sample(AUDIENCES, 3)])
            await Registration.insert(*[Registration(workshop=workshop, name=f"Personne {r}")
                                        for r in range(rng.randint(0, 6))] or [Registration(workshop=workshop, name="x",
                                                                                          status="cancelled")])
    projects = [Project(title=f"Projet {n}", slug=f"projet-{n}", site=rng.choice(site_ids),
                        created_at=now - timedelta(days=rng.uniform(0, 365)),
                        done_at=now - timedelta(days=rng.uniform(0, 30)) if n % 3 == 0 else None)
                for n in range(2000)]
    await insert_all(Project, projects)
    return {"sites": sites, "machines": len(machines), "bookings": len(booking_rows),
            "sessions": len(session_rows), "workshops": workshops, "projects": len(projects)}


async def _stream(first: Month, last: Month, now: datetime) -> tuple[int, int]:
    rows = size = 0
    async for chunk in services.csv_export(first, last, None, now):
        size += len(chunk.encode())  # what the server writes to the socket
        rows += chunk.count("\r\n")
    return rows - 1, size


async def export(first: Month, last: Month, now: datetime) -> tuple[int, int, float, float]:
    """Rows, bytes, seconds, peak MiB of the streamed CSV for [first, last]: timed without
    tracemalloc (it slows allocations down), then run again under it for the peak."""
    began = time.perf_counter()
    rows, size = await _stream(first, last, now)
    seconds = time.perf_counter() - began
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    await _stream(first, last, now)
    peak = (tracemalloc.get_traced_memory()[1] - baseline) / 2**20
    tracemalloc.stop()
    return rows, size, seconds, peak


async def whole_year_at_once(first: Month, last: Month) -> float:
    """For contrast, the peak MiB of holding the year's booking and session rows in memory at
    once (what a non-streamed export reading rows would do before writing its first byte)."""
    from fabbooking.bookings.tables import Booking
    from fabbooking.figures import queries
    from fabbooking.figures.monthly import window
    from fabbooking.usage.tables import UsageSession

    sites = await queries.sites()
    lower, upper = window(first, sites)[0], window(last, sites)[1]
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    rows = [
        await Booking.select(Booking.machine.site, Booking.machine.kind, Booking.maker, Booking.start_at,
                             Booking.end_at, Booking.status, Booking.purpose)
        .where((Booking.start_at < upper) & (Booking.end_at > lower)),
        await UsageSession.select(UsageSession.machine.site, UsageSession.machine.kind, UsageSession.started_at,
                                  UsageSession.ended_at, UsageSession.duration_s, UsageSession.walk_in)
        .where((UsageSession.started_at >= lower) & (UsageSession.started_at < upper)),
    ]
    peak = (tracemalloc.get_traced_memory()[1] - baseline) / 2**20
    tracemalloc.stop()
    del rows
    return peak


async def run(kind: str, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    if kind == "sqlite":
        path = _SCRATCH / f"bench-{uuid.uuid4().hex[:6]}.sqlite3"
        url = f"sqlite:///{path}"
        migrate(url)
        database.use_engine(database.build_engine(parse_database_url(url)))
        name = None
    else:
        import asyncpg

        name = f"fabbooking_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        migrate(url)
        engine = PostgresEngine(config={"dsn": url})
        await engine.start_connection_pool(min_size=1, max_size=2)
        database.use_engine(engine)
    try:
        began = time.perf_counter()
        counts = await fill(args.sites, args.bookings, args.sessions, now)
        print(f"[{kind}] filled in {time.perf_counter() - began:.0f} s: "
              + ", ".join(f"{v} {k}" for k, v in counts.items()))
        last = services.last_month(now)
        first = last
        for _ in range(11):
            first = first.previous()
        print(f"{'database':<10} {'period':<20} {'rows':>6} {'bytes':>9} {'seconds':>8} {'peak MiB':>9}")
        for label, start in (("1 month", last), ("12 months", first), ("1 month again", last)):
            rows, size, seconds, peak = await export(start, last, now)
            print(f"{kind:<10} {label:<20} {rows:>6} {size:>9} {seconds:>8.2f} {peak:>9.2f}")
        held = await whole_year_at_once(first, last)
        print(f"{kind:<10} a year's rows held at once (not streamed): peak {held:.1f} MiB")
        kept_months.forget()  # the exports above kept their closed months: the first read is cold
        for label in ("cold cache", "warm cache"):
            began = time.perf_counter()
            async for _result in services.months(first, last, now):
                pass
            print(f"{kind:<10} dashboard, 12 months, {label}: {time.perf_counter() - began:.2f} s")
    finally:
        if kind == "sqlite":
            path.unlink(missing_ok=True)
        if kind == "postgres":
            await database.DB.close_connection_pool()
            import asyncpg

            admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--bookings", type=int, default=50_000)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for kind in args.databases:
        asyncio.run(run(kind, args))


if __name__ == "__main__":
    main()
