"""bench/scale.py's worker, run with the measured checkout's code first on PYTHONPATH:

    python bench/_scale_worker.py fill SIZE SEED     # base network + SIZE bookings, bulk SQL
    python bench/_scale_worker.py measure REQUESTS   # p50/p90 per path, in-process; JSON on stdout

The database is FABBOOKING_DATABASE_URL, already migrated. Sites, machines, people and
qualifications go through the checkout's Piccolo tables (so new columns get their defaults);
bookings and usage sessions are bulk SQL: one executemany transaction on SQLite, COPY on
PostgreSQL, through the overlap triggers and the exclusion constraint.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http (httpx needs it): drop this folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from datetime import time as clock  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
SITES = 22
MACHINES = 100
MAKERS = 2000
POSTERS = 100  # makers without history who make the measured bookings (quota: 3 per site)
HEAVY_MAKER_BOOKINGS = 1500
FIRST_DAY = date(2013, 1, 1)
OPEN_WEEKDAYS = range(0, 6)  # Monday to Saturday, 10:00-19:00 at every site
HISTORY_SLOTS = [(10, 12), (12, 14), (14, 16), (16, 18)]  # local hours of the filled bookings
POST_HOUR = 18  # 18:00-19:00 stays free at every size: the measured bookings go there
KINDS = ["3d_printer", "3d_printer", "laser_cutter", "3d_printer", "cnc", "vinyl_cutter"]
TRAININGS = {"3d_printer": "impression-3d", "laser_cutter": "decoupe-laser", "cnc": "fraiseuse"}
FAKE_HASH = "pbkdf2_sha256$600000$00000000000000000000000000000000$" + "0" * 64  # no login


def utc_text(moment: datetime) -> str:
    """Piccolo's SQLite text for a UTC timestamp (the triggers compare these as text)."""
    return moment.astimezone(UTC).isoformat(sep=" ")


# --- fill --------------------------------------------------------------------------------

async def fill_base() -> dict:
    from fabbooking.accounts.tables import Account
    from fabbooking.database import DB
    from fabbooking.network.tables import Machine, OpeningPeriod, Site, Staff
    from fabbooking.training.tables import Qualification, Training

    async def insert_all(table, rows, chunk=200):
        for at in range(0, len(rows), chunk):
            await table.insert(*rows[at:at + chunk])

    async with DB.transaction():
        await insert_all(Site, [Site(slug=f"lieu-{n:02d}", name=f"Lieu {n:02d}",
                                     kind="fablab" if n <= 2 else "papifab") for n in range(1, SITES + 1)])
        sites = [row["id"] for row in await Site.select(Site.id).order_by(Site.id)]
        await insert_all(OpeningPeriod, [OpeningPeriod(site=site, weekday=day, opens=clock(10), closes=clock(19))
                                         for site in sites for day in OPEN_WEEKDAYS])
        await insert_all(Training, [Training(slug=slug, name=slug, unlocks_kinds=[kind])
                                    for kind, slug in TRAININGS.items()])
        trainings = {row["slug"]: row["id"] for row in await Training.select(Training.id, Training.slug)}
        await insert_all(Machine, [
            Machine(site=sites[n % SITES], slug=f"machine-{n:03d}", name=f"Machine {n:03d}",
                    kind=KINDS[n % len(KINDS)],
                    required_training=trainings.get(TRAININGS.get(KINDS[n % len(KINDS)], "")))
            for n in range(MACHINES)])
        people = ([("admin", "admin")] + [(f"animateur-{n:02d}", "animator") for n in range(1, SITES + 1)]
                  + [(f"maker-{n:04d}", "maker") for n in range(1, MAKERS + 1)]
                  + [(f"poster-{n:03d}", "maker") for n in range(1, POSTERS + 1)])
        await insert_all(Account, [Account(username=name, password=FAKE_HASH, role=role, active=True,
                                           display_name=name.title(), admin=role == "admin",
                                           superuser=role == "admin") for name, role in people])
        ids = {row["username"]: row["id"] for row in await Account.select(Account.id, Account.username)}
        await insert_all(Staff, [Staff(site=site, account=ids[f"animateur-{n:02d}"])
                                 for n, site in enumerate(sites, 1)])
        await insert_all(Qualification, [
            Qualification(account=ids[name], training=training, granted_on=FIRST_DAY,
                          granted_by=ids["animateur-01"], granted_at_site="lieu-01")
            for name, role in people if role == "maker" for training in trainings.values()])
    machines = [row["id"] for row in await Machine.select(Machine.id).order_by(Machine.id)]
    return {"machines": machines, "makers": [ids[f"maker-{n:04d}"] for n in range(1, MAKERS + 1)]}


def booking_rows(size: int, seed: int, machines: list[int], makers: list[int]):
    """``size`` non-overlapping bookings (ids 1..size), newest first: each machine's filled
    slots are distinct 2-hour slots of its open days, so none overlaps another."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    last_day = (now + timedelta(days=28)).astimezone(PARIS).date()
    days = [FIRST_DAY + timedelta(days=n) for n in range((last_day - FIRST_DAY).days + 1)]
    days = [day for day in days if day.weekday() in OPEN_WEEKDAYS]
    per_day = len(machines) * len(HISTORY_SLOTS)
    if size > len(days) * per_day:
        raise SystemExit(f"at most {len(days) * per_day} bookings fit in this network")
    chosen = sorted(rng.sample(range(len(days) * per_day), size), reverse=True)
    heavy = set(rng.sample(range(size), min(HEAVY_MAKER_BOOKINGS, size // 4)))
    offsets: dict[date, list[tuple[datetime, datetime]]] = {}
    for booking_id, index in enumerate(chosen, 1):
        day_index, rest = divmod(index, per_day)
        machine_index, slot = divmod(rest, len(HISTORY_SLOTS))
        day = days[day_index]
        if day not in offsets:
            offsets[day] = [(datetime.combine(day, clock(a), PARIS).astimezone(UTC),
                             datetime.combine(day, clock(b), PARIS).astimezone(UTC)) for a, b in HISTORY_SLOTS]
        start, end = offsets[day][slot]
        maker = makers[0] if booking_id - 1 in heavy else makers[1 + rng.randrange(len(makers) - 1)]
        status, cancelled_at, cancelled_by = "confirmed", None, None
        if start < now:
            draw = rng.random()
            if draw < 0.08:
                status, cancelled_at, cancelled_by = "cancelled", start - timedelta(hours=rng.randint(2, 200)), maker
            elif draw < 0.14:
                status = "no_show"
        created_at = start - timedelta(days=rng.randint(1, 25), minutes=rng.randint(0, 600))
        yield (booking_id, machines[machine_index], maker, maker, start, end, status, "", created_at,
               cancelled_at, cancelled_by, "maker")


BOOKING_COLUMNS = ["id", "machine", "maker", "booked_by", "start_at", "end_at", "status", "note",
                   "created_at", "cancelled_at", "cancelled_by", "purpose"]
SESSION_COLUMNS = ["key", "machine", "job_key", "started_at", "ended_at", "duration_s", "outcome",
                   "energy_wh", "material_kind", "file_name", "booking", "walk_in", "overrun", "replayed"]


def session_rows(bookings: list[tuple], seed: int):
    """A completed job in each confirmed booking of the last 13 months, and a walk-in for one
    booking in ten, so the figures have machine time to read."""
    rng = random.Random(seed + 1)
    now = datetime.now(UTC)
    since = now - timedelta(days=400)
    for row in bookings:
        booking_id, machine, _, _, start, end, status = row[:7]
        if status != "confirmed" or not since <= start < now - timedelta(hours=2):
            continue
        began = start + timedelta(minutes=rng.randint(0, 20))
        seconds = rng.randint(20, 100) * 60
        yield (f"{machine}:bench-{booking_id}", machine, f"bench-{booking_id}", began,
               began + timedelta(seconds=seconds), float(seconds), "completed", rng.uniform(50, 900),
               "PLA", "", booking_id, False, False, False)
        if rng.random() < 0.1:  # a walk-in after the booking
            began = end + timedelta(minutes=5)
            yield (f"{machine}:walkin-{booking_id}", machine, f"walkin-{booking_id}", began,
                   began + timedelta(minutes=20), 1200.0, "completed", 120.0, "", "", None, True, False, False)


def sqlite_value(value):
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, bool):
        return int(value)
    return value


def fill_sqlite(path: str, bookings: list[tuple], sessions: list[tuple]) -> None:
    connection = sqlite3.connect(path, timeout=60)
    try:
        with connection:
            connection.executemany(
                f"INSERT INTO booking ({', '.join(BOOKING_COLUMNS)}) VALUES ({', '.join('?' * len(BOOKING_COLUMNS))})",
                ([sqlite_value(v) for v in row] for row in bookings))
            connection.executemany(
                f"INSERT INTO usage_session ({', '.join(SESSION_COLUMNS)}) VALUES ({', '.join('?' * len(SESSION_COLUMNS))})",
                ([sqlite_value(v) for v in row] for row in sessions))
    finally:
        connection.close()


async def fill_postgres(dsn: str, bookings: list[tuple], sessions: list[tuple]) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.copy_records_to_table("booking", records=bookings, columns=BOOKING_COLUMNS)
            await connection.copy_records_to_table("usage_session", records=sessions, columns=SESSION_COLUMNS)
            await connection.execute("SELECT setval(pg_get_serial_sequence('booking', 'id'), max(id)) FROM booking")
        # What autovacuum would do soon after such a load; the plans then match a live server.
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def fill(size: int, seed: int) -> dict:
    from fabbooking.settings import database_url

    began = time.monotonic()
    base = asyncio.run(fill_base())
    bookings = list(booking_rows(size, seed, base["machines"], base["makers"]))
    sessions = list(session_rows(bookings, seed))
    url = database_url()
    if url.kind == "sqlite":
        fill_sqlite(url.path, bookings, sessions)
    else:
        asyncio.run(fill_postgres(url.dsn, bookings, sessions))
    statuses = {}
    for row in bookings:
        key = "upcoming" if row[4] > datetime.now(UTC) else row[6]
        statuses[key] = statuses.get(key, 0) + 1
    return {"bookings": len(bookings), "sessions": len(sessions), "statuses": statuses,
            "seconds": round(time.monotonic() - began, 1)}


# --- measure -----------------------------------------------------------------------------

def last_month() -> str:
    first = datetime.now(PARIS).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def next_monday() -> datetime:
    today = datetime.now(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, clock(0), PARIS)


def post_slots(machines: list[dict], posters: list[int], count: int) -> list[tuple[int, dict]]:
    """(poster, body) for ``count`` distinct free 15-minute slots between 18:00 and 19:00 in
    the coming days (left free by the fill), each poster holding at most 3 per site."""
    start_day = datetime.now(PARIS).date() + timedelta(days=1)
    slots = []
    for day_offset in range(25):
        day = start_day + timedelta(days=day_offset)
        if day.weekday() not in OPEN_WEEKDAYS:
            continue
        for quarter in range(4):
            for machine in machines:
                begin = datetime.combine(day, clock(POST_HOUR, 15 * quarter), PARIS)
                slots.append((machine, begin))
    used: dict[tuple[int, int], int] = {}
    plan = []
    rotation = 0
    for machine, begin in slots:
        for _ in range(len(posters)):
            poster = posters[rotation % len(posters)]
            rotation += 1
            if used.get((poster, machine["site"]), 0) < 3:
                used[(poster, machine["site"])] = used.get((poster, machine["site"]), 0) + 1
                plan.append((poster, {"machine_id": machine["id"], "start": begin.isoformat(),
                                      "end": (begin + timedelta(minutes=15)).isoformat()}))
                break
        if len(plan) == count:
            break
    return plan


async def measure(requests: int) -> dict:
    import httpx

    from fabbooking.accounts.services import issue_token
    from fabbooking.accounts.tables import Account
    from fabbooking.app import create_app
    from fabbooking.bookings.tables import Booking
    from fabbooking.network.tables import Machine

    app = create_app(run_usage=False)
    results: dict[str, dict] = {}
    async with app.lifespan():
        heavy = (await Account.select(Account.id).where(Account.username == "maker-0001").first())["id"]
        posters = [row["id"] for row in await Account.select(Account.id).where(
            Account.username.like("poster-%")).order_by(Account.id)]
        tokens = {account: await issue_token(account, "bench") for account in [heavy, *posters]}
        machines = [{"id": row["id"], "site": row["site"]} for row in
                    await Machine.select(Machine.id, Machine.site).order_by(Machine.id)]
        machine = machines[0]["id"]
        start = next_monday()
        week = {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}
        month = {"from": last_month(), "to": last_month()}
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as http:
            async def timed(name: str, send, warm: int = 2) -> None:
                for _ in range(warm):
                    (await send()).raise_for_status()
                times = []
                for _ in range(requests):
                    began = time.perf_counter()
                    response = await send()
                    times.append((time.perf_counter() - began) * 1000)
                    if response.status_code >= 300:
                        raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
                times.sort()
                results[name] = {"p50": statistics.median(times), "p90": times[int(len(times) * 0.9) - 1]}

            heavy_auth = {"Authorization": f"Bearer {tokens[heavy]}"}
            await timed("availability API (one week)",
                        lambda: http.get(f"/api/v1/machines/{machine}/availability", params=week))
            await timed("machine week page", lambda: http.get(f"/machines/{machine}"))
            plan = iter(post_slots(machines, posters, requests + 2))

            async def book():
                poster, body = next(plan)
                return await http.post("/api/v1/bookings", json=body,
                                       headers={"Authorization": f"Bearer {tokens[poster]}"})
            await timed("POST booking", book)
            await timed("figures API, last month", lambda: http.get("/api/v1/figures", params=month))
            await timed("/figures page", lambda: http.get("/figures"))
            await timed("/figures/<site> page", lambda: http.get("/figures/lieu-01"))
            await timed("open-data month CSV", lambda: http.get("/open-data/monthly.csv", params=month))
            await timed("bookings?mine=true (1,500 bookings)",
                        lambda: http.get("/api/v1/bookings", params={"mine": "true"}, headers=heavy_auth))
            listed = (await http.get("/api/v1/bookings", params={"mine": "true"}, headers=heavy_auth)).json()
        now = datetime.now(UTC)
        held = await Booking.count().where((Booking.maker == heavy) & (Booking.start_at > now)
                                           & (Booking.status == "confirmed"))
        shown = sum(1 for row in (listed if isinstance(listed, list) else listed.get("items", []))
                    if datetime.fromisoformat(row["start"]) > now and row["status"] == "confirmed")
    return {"paths": results, "heavy_upcoming": {"held": held, "shown": shown}}


def main() -> None:
    command = sys.argv[1]
    if command == "fill":
        print(json.dumps(fill(int(sys.argv[2]), int(sys.argv[3]))))
    elif command == "measure":
        print(json.dumps(asyncio.run(measure(int(sys.argv[2])))))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
