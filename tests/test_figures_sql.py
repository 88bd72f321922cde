"""The figures the database adds up equal the definition on plain rows (rows.py), month by
month and site by site, on SQLite and PostgreSQL; their cost is a fixed number of
statements whatever the months, sites and bookings; and they read indexes, not the whole
booking history."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking import database
from fabbooking.bookings.tables import Booking
from fabbooking.figures import kept_months, queries
from fabbooking.figures.monthly import Month, bounds, month_range
from fabbooking.figures.rows import BookingRow, ProjectRow, SessionRow, WorkshopRow, totals_from_rows
from fabbooking.network.tables import Site
from fabbooking.projects.tables import Project
from fabbooking.usage.tables import UsageSession
from fabbooking.workshops.tables import Attendance, Registration, Workshop
from tests.conftest import make_machine, make_site
from tests.figures_support import load_march
from tests.statements import counting_statements
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio
MONTHS = month_range(Month(2026, 2), Month(2026, 4))
AROUND = datetime(2026, 1, 20, tzinfo=UTC)  # generated history: 20 January to mid-May
KINDS = {"printer": "3d_printer", "laser": "laser_cutter", "far_printer": "3d_printer"}


def _normalised(totals) -> dict:
    """Every total by what it is the total of; seconds to a hundredth (SQLite keeps
    milliseconds; the generated times have microseconds)."""
    found = {}
    for kind in ("bookings", "sessions", "workshops", "attendance", "projects"):
        for key, items in getattr(totals, kind).items():
            for item in items:
                values = vars(item).copy()
                if "seconds" in values:
                    values["seconds"] = pytest.approx(values["seconds"], abs=0.01)
                found[(kind, *key, *(v for v in values.values() if isinstance(v, str | bool)))] = values
    found.update({("makers", *key): count for key, count in totals.makers.items() if count})
    return found


async def _generate(world, seed: int):
    """Random history around March 2026 at two sites in two timezones (Paris, Nouméa):
    bookings across month ends and DST, every status and purpose, sessions with and
    without an end, long ones begun weeks before, workshops, projects with no site."""
    rng = random.Random(seed)
    ids = world.ids
    await Site.update({Site.timezone: "Pacific/Noumea"}).where(Site.id == ids["ailleurs"])
    site_of = {"printer": ids["atelier"], "laser": ids["atelier"], "far_printer": ids["ailleurs"]}
    bookings, sessions, workshops, projects = [], [], [], []
    for name, site in site_of.items():
        at = AROUND
        while at < AROUND + timedelta(days=115):
            start = at + timedelta(minutes=15 * rng.randint(0, 60))
            end = start + timedelta(minutes=15 * rng.choice([1, 4, 8, 30, 200, 672]))  # up to 7 days
            status = rng.choice(["confirmed"] * 6 + ["cancelled", "no_show"])
            purpose = rng.choice(["maker"] * 5 + ["workshop"])
            maker = rng.choice([ids["maker"], ids["newbie"], ids["animator"]])
            await Booking.insert(Booking(machine=ids[name], maker=maker, booked_by=maker, start_at=start,
                                         end_at=end, status=status, purpose=purpose))
            bookings.append(BookingRow(site, KINDS[name], maker, start, end, status, purpose))
            at = end
        for n in range(60):
            began = AROUND + timedelta(minutes=rng.randint(0, 115 * 24 * 60), seconds=rng.random())
            shape = rng.random()
            if shape < 0.1:  # a long one, begun weeks before it ends
                began -= timedelta(days=rng.randint(2, 40))
            seconds = rng.uniform(60, 60 * 60 * 30) if shape < 0.2 else rng.uniform(60, 5 * 3600)
            duration = None if shape > 0.9 else seconds
            ended = None if 0.85 < shape < 0.95 else began + timedelta(seconds=seconds)
            walk_in = rng.random() < 0.3
            await UsageSession.insert(UsageSession(
                key=f"{name}:{seed}:{n}", machine=ids[name], job_key=f"{seed}-{n}", started_at=began,
                ended_at=ended, duration_s=duration, outcome="completed", walk_in=walk_in))
            sessions.append(SessionRow(site, KINDS[name], began, duration, walk_in, ended))
    for _ in range(30):
        site = rng.choice([ids["atelier"], ids["ailleurs"]])
        starts = AROUND + timedelta(hours=rng.randint(0, 115 * 24))
        status = rng.choice(["done", "done", "planned", "cancelled"])
        attendance = tuple((a, rng.randint(0, 9), rng.randint(0, 3))
                           for a in rng.sample(["children", "adults", "seniors", "martians"], 2))
        held = rng.randint(0, 4)
        workshop_id = (await Workshop.insert(Workshop(
            site=site, title="t", starts_at=starts, ends_at=starts + timedelta(hours=2), status=status,
        )).returning(Workshop.id))[0]["id"]
        for audience, head_count, first_timers in attendance:
            await Attendance.insert(Attendance(workshop=workshop_id, audience=audience,
                                               head_count=head_count, first_timers=first_timers))
        for r in range(held + 1):
            await Registration.insert(Registration(workshop=workshop_id, name=f"n{r}",
                                                   status="registered" if r < held else "cancelled"))
        workshops.append(WorkshopRow(site, starts, status, attendance, held))
    for n in range(25):
        site = rng.choice([ids["atelier"], ids["ailleurs"], None])
        created = AROUND + timedelta(hours=rng.randint(0, 115 * 24))
        done = created + timedelta(hours=rng.randint(1, 900)) if rng.random() < 0.6 else None
        await Project.insert(Project(title="t", slug=f"p-{seed}-{n}", site=site, created_at=created,
                                     done_at=done))
        projects.append(ProjectRow(site, created, done))
    return bookings, sessions, workshops, projects


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_database_adds_up_what_the_rows_define(world, seed):
    rows = await _generate(world, seed)
    sites = await queries.sites()
    now = datetime(2026, 3, 18, 12, tzinfo=UTC)  # March is still running: some bookings are due
    from_sql = await queries.totals(bounds(MONTHS, sites), now)
    from_rows = totals_from_rows(MONTHS, sites, now, *rows)
    expected, found = _normalised(from_rows), _normalised(from_sql)
    assert {k: (found.get(k), expected.get(k)) for k in found.keys() | expected.keys()
            if found.get(k) != expected.get(k)} == {}
    assert len(expected) > 60  # the months are not empty: bookings, sessions, workshops, projects
    # one month read alone is the same month read among others
    alone = await queries.totals(bounds([Month(2026, 3)], sites), now)
    assert {k: v for k, v in expected.items() if Month(2026, 3) in k} == _normalised(alone)


async def _statements(client, path: str, kept: bool = True) -> int:
    if not kept:
        kept_months.forget()  # what a first request costs
    with counting_statements() as seen:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    return len(seen)


PATHS = ("/api/v1/figures?from=2026-03&to=2026-03", "/api/v1/figures?from=2022-01&to=2026-10",
         "/api/v1/figures/sites/atelier?from=2025-11&to=2026-04", "/figures?month=2026-03", "/figures/atelier?month=2026-03",
         "/open-data/monthly.csv?from=2026-03&to=2026-03")


async def test_figures_cost_a_fixed_number_of_statements_whatever_the_months_sites_and_rows(client, world):
    """Months closed for good (all of these, whenever the test runs, whatever --clock says:
    never « last month », which the database's own clock may still see open) are kept: a
    request then costs who asks, the sites and the months' stamps; computed, six aggregates more."""
    await load_march(world)
    await browser_login(client, "admin")
    computed = {path: await _statements(client, path, kept=False) for path in PATHS}
    # one month or five years: the same statements (the viewer, the sites, the stamps, six aggregates)
    assert computed["/api/v1/figures?from=2026-03&to=2026-03"] == computed["/api/v1/figures?from=2022-01&to=2026-10"]
    assert max(computed.values()) <= 9, computed
    for path in PATHS:  # each keeps its months
        await _statements(client, path)
    kept = {path: await _statements(client, path) for path in PATHS}
    assert kept == dict.fromkeys(PATHS, 3), kept  # the viewer, the sites, the stamps
    for n in range(3):  # more sites, machines, bookings, sessions and workshops
        site = await make_site(f"quartier-{n}")
        machine = await make_machine(site, f"machine-{n}", training_id=world.ids["print"])
        for day in range(1, 20):
            start = datetime(2026, 3, day, 9, tzinfo=UTC)
            await Booking.insert(Booking(machine=machine, maker=world.ids["maker"], booked_by=world.ids["maker"],
                                         start_at=start, end_at=start + timedelta(hours=2)))
            await UsageSession.insert(UsageSession(key=f"{machine}:{day}", machine=machine, job_key=str(day),
                                                   started_at=start, ended_at=start + timedelta(hours=1),
                                                   duration_s=3600.0, outcome="completed"))
        await Workshop.insert(Workshop(site=site, title="t", starts_at=datetime(2026, 3, 4, 14, tzinfo=UTC),
                                       ends_at=datetime(2026, 3, 4, 16, tzinfo=UTC), status="done"))
    assert {path: await _statements(client, path, kept=False) for path in PATHS} == computed
    for path in PATHS:
        await _statements(client, path)
    assert {path: await _statements(client, path) for path in PATHS} == kept


def _full_scans(plan: list[str], postgres: bool) -> list[str]:
    """The plan's lines that read booking or usage_session whole."""
    if postgres:
        return [line for line in plan if "Seq Scan on booking" in line or "Seq Scan on usage_session" in line]
    # SQLite: « SCAN b » reads the table whole, « SEARCH b USING INDEX … » a range
    return [line for line in plan if line.startswith("SCAN ") and line.split()[1] in ("b", "s", "booking",
                                                                                       "usage_session")]


async def test_a_months_statements_read_indexes_not_the_whole_history(world):
    """50,000 hourly bookings and sessions over six years: every statement of a month reads
    an index range of booking and usage_session, on both databases."""
    machine = world.ids["printer"]
    count = 50_000
    if database.is_postgres():
        for sql in (
            "INSERT INTO booking (machine, maker, booked_by, start_at, end_at, status, note, created_at, purpose) "
            f"SELECT {machine}, {world.ids['maker']}, {world.ids['maker']}, "
            "timestamptz '2021-01-01 00:00+00' + n * interval '1 hour', "
            "timestamptz '2021-01-01 00:50+00' + n * interval '1 hour', 'confirmed', '', now(), 'maker' "
            f"FROM generate_series(0, {count - 1}) AS n",
            "INSERT INTO usage_session (key, machine, job_key, started_at, ended_at, duration_s, outcome, walk_in, "
            "overrun, replayed, file_name) "
            f"SELECT 'k' || n, {machine}, 'j' || n, timestamptz '2021-01-01 00:05+00' + n * interval '1 hour', "
            "timestamptz '2021-01-01 00:45+00' + n * interval '1 hour', 2400, 'completed', false, false, false, '' "
            f"FROM generate_series(0, {count - 1}) AS n",
            "ANALYZE",
        ):
            await database.DB.run_ddl(sql)
    else:
        hours = (f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count - 1}) ")
        moment = "strftime('%Y-%m-%d %H:%M:%S+00:00', '2021-01-01 00:00', '+' || i || ' hours', '+{} minutes')"
        for sql in (
            hours + "INSERT INTO booking (machine, maker, booked_by, start_at, end_at, status, note, created_at, "
            f"purpose) SELECT {machine}, {world.ids['maker']}, {world.ids['maker']}, {moment.format(0)}, "
            f"{moment.format(50)}, 'confirmed', '', {moment.format(0)}, 'maker' FROM n",
            hours + "INSERT INTO usage_session (key, machine, job_key, started_at, ended_at, duration_s, outcome, "
            f"walk_in, overrun, replayed, file_name) SELECT 'k' || i, {machine}, 'j' || i, {moment.format(5)}, "
            f"{moment.format(45)}, 2400.0, 'completed', 0, 0, 0, '' FROM n",
        ):
            await database.DB.run_ddl(sql)
    assert await Booking.count() == count
    captured = []
    original = queries._run

    async def capture(sql, args):
        captured.append((sql, args))
        return await original(sql, args)

    sites = await queries.sites()
    queries._run = capture
    try:
        month = await queries.totals(bounds([Month(2023, 6)], sites), datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        queries._run = original
    assert sum(t.starting for t in month.bookings[(world.ids["atelier"], Month(2023, 6))]) == 30 * 24
    postgres = database.is_postgres()
    for sql, args in captured:
        rows = await original(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + sql, args)
        plan = [row["QUERY PLAN"] if postgres else row["detail"] for row in rows]
        assert not _full_scans(plan, postgres), "\n".join([sql, *plan])
