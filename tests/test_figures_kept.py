"""Closed months' figures are kept (fabbooking/figures/kept_months.py) and yet every write
into a closed month shows on the very next request, on SQLite and PostgreSQL: the database's
triggers bump the history stamp the cache checks first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from fabbooking import database
from fabbooking.bookings.tables import Booking
from fabbooking.figures import kept_months, queries, services
from fabbooking.figures.monthly import Month, month_range
from fabbooking.network.tables import Machine
from fabbooking.projects.tables import Project
from fabbooking.usage.tables import UsageSession
from fabbooking.workshops.tables import Attendance, Registration, Workshop
from tests.figures_support import PARIS, booking, load_march, paris, project, session, workshop
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio
MARCH = "from=2026-03&to=2026-03"  # closed, whatever day the tests run


@pytest.fixture
async def march(world):
    await load_march(world)
    kept_months.forget()
    return world


async def atelier_in_march(client, world) -> tuple[dict, int]:
    """Atelier's exact March record as the API shows it to an admin, and how many statements
    the request took."""
    with counting_statements() as seen:
        response = await client.get(f"/api/v1/figures/sites/atelier?{MARCH}", headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()["rows"][0], len(seen)


async def _aggregates_of(client, world) -> int:
    with counting_statements() as seen:
        await client.get(f"/api/v1/figures/sites/atelier?{MARCH}", headers=world.auth("admin"))
    return sum(1 for sql in seen.sql if "WITH bounds" in sql)


async def nothing(ids):
    return None


async def new_booking(ids, _):
    await booking(ids["printer"], ids["maker"], "2026-03-17 10:00", "2026-03-17 11:00")


async def cancel(ids, booking_id):
    await Booking.update({Booking.status: "cancelled"}).where(Booking.id == booking_id)


async def no_show(ids, booking_id):
    await Booking.update({Booking.status: "no_show"}).where(Booking.id == booking_id)


async def deleted(ids, booking_id):
    await Booking.delete().where(Booking.id == booking_id)


async def workshop_deleted(ids, workshop_id):
    await Workshop.delete().where(Workshop.id == workshop_id)  # its registrations and attendance go with it


async def a_booking(ids):
    return await booking(ids["printer"], ids["maker"], "2026-03-18 10:00", "2026-03-18 11:00")


async def late_session(ids, _):
    await session(ids["printer"], "2026-03-19 10:00", 3600)


async def open_session(ids):
    await UsageSession.insert(UsageSession(key="open", machine=ids["printer"], job_key="open",
                                           started_at=paris("2026-03-21 10:00"), outcome="completed"))


async def end_it_late(ids, _):
    await UsageSession.update({UsageSession.ended_at: paris("2026-03-21 13:00"), UsageSession.duration_s: 10800.0}
                              ).where(UsageSession.key == "open")


async def long_session(ids, _):
    """Begun in January, still running into April: found by its end, its start far from March."""
    await UsageSession.insert(UsageSession(key="long", machine=ids["laser"], job_key="long",
                                           started_at=paris("2026-01-10 10:00"),
                                           ended_at=paris("2026-04-02 10:00"), outcome="completed"))


async def a_planned_workshop(ids):
    return await workshop(ids["atelier"], "2026-03-26 18:00", "2026-03-26 20:00", "planned")


async def held(ids, workshop_id):
    await Workshop.update({Workshop.status: "done"}).where(Workshop.id == workshop_id)


async def a_done_workshop(ids):
    return await workshop(ids["atelier"], "2026-03-26 18:00", "2026-03-26 20:00", "done")


async def attended(ids, workshop_id):
    await Attendance.insert(Attendance(workshop=workshop_id, audience="teens", head_count=7, first_timers=3))


async def registered(ids, workshop_id):
    await Registration.insert(Registration(workshop=workshop_id, name="n", status="registered"))


async def new_project(ids, _):
    await project(ids["atelier"], "2026-03-14 10:00")


async def a_project(ids):
    await project(ids["atelier"], "2026-03-03 10:00")


async def finished(ids, _):
    await Project.update({Project.done_at: paris("2026-03-16 10:00")}).where(Project.slug == "p-2026-03-03-1000")


async def moved(ids, _):
    await Machine.update({Machine.site: ids["ailleurs"]}).where(Machine.id == ids["laser"])


async def kind_changed(ids, _):
    await Machine.update({Machine.kind: "cnc"}).where(Machine.id == ids["laser"])


CASES = {
    "a booking made": (nothing, new_booking, lambda b, a: a["bookings"] == b["bookings"] + 1),
    "a booking cancelled": (a_booking, cancel,
                            lambda b, a: a["bookings_cancelled"] == b["bookings_cancelled"] + 1),
    "a booking marked no-show": (a_booking, no_show, lambda b, a: a["no_shows"] == b["no_shows"] + 1),
    "a booking deleted": (a_booking, deleted, lambda b, a: a["bookings"] == b["bookings"] - 1),
    "a workshop deleted": (a_done_workshop, workshop_deleted,
                           lambda b, a: a["workshops_held"] == b["workshops_held"] - 1),
    "a usage session reported late": (nothing, late_session, lambda b, a: a["sessions"] == b["sessions"] + 1),
    "a usage session ended late": (open_session, end_it_late,
                                   lambda b, a: a["used_hours"] == pytest.approx(b["used_hours"] + 3)),
    "a session spanning the month": (nothing, long_session,
                                     lambda b, a: a["used_hours"] == pytest.approx(b["used_hours"] + 31 * 24 - 1)),
    "a workshop held": (a_planned_workshop, held, lambda b, a: a["workshops_held"] == b["workshops_held"] + 1),
    "attendance written": (a_done_workshop, attended,
                           lambda b, a: a["attendance_teens"] == b["attendance_teens"] + 7),
    "a registration": (a_planned_workshop, registered, lambda b, a: a["registrations"] == b["registrations"] + 1),
    "a project started": (nothing, new_project,
                          lambda b, a: a["projects_started"] == b["projects_started"] + 1),
    "a project finished": (a_project, finished,
                           lambda b, a: a["projects_finished"] == b["projects_finished"] + 1),
    "a machine moved to another site": (nothing, moved, lambda b, a: a["booked_hours"] < b["booked_hours"]),
    "a machine of another kind": (nothing, kind_changed,
                                  lambda b, a: a["booked_hours_cnc"] > b["booked_hours_cnc"] == 0),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_write_into_a_kept_month_shows_on_the_very_next_request(client, march, case):
    before_kept, write, shows = CASES[case]
    made = await before_kept(march.ids)
    computed, _ = await atelier_in_march(client, march)
    kept, statements = await atelier_in_march(client, march)
    assert kept == computed and statements == 3  # who asks, the sites, the stamp: March was kept
    await write(march.ids, made)
    after, statements = await atelier_in_march(client, march)
    assert statements == 9 and after != kept  # computed again: the six aggregates too
    assert shows(kept, after), (kept, after)
    again, statements = await atelier_in_march(client, march)
    assert (again, statements) == (after, 3)  # and kept again


async def test_a_write_elsewhere_or_ahead_keeps_the_month(client, march):
    await atelier_in_march(client, march)
    # a booking next month, a session now, a workshop ahead: March's days are untouched
    await booking(march.ids["printer"], march.ids["maker"], "2026-05-04 10:00", "2026-05-04 11:00")
    now = datetime.now(UTC)
    await UsageSession.insert(UsageSession(key="now", machine=march.ids["printer"], job_key="now",
                                           started_at=now, outcome="completed"))
    await workshop(march.ids["atelier"], "2030-01-10 10:00", "2030-01-10 12:00", "planned", registered=2)
    assert await _aggregates_of(client, march) == 0


async def test_the_stamp_counts_only_days_over(march):
    """Writes ahead (the API's bookings, the machines' sessions as they start) bump no counter."""
    before = await database.DB.run_querystring(_changes())
    now = datetime.now(UTC)
    await Booking.insert(Booking(machine=march.ids["printer"], maker=march.ids["maker"], booked_by=march.ids["maker"],
                                 start_at=now + timedelta(days=3), end_at=now + timedelta(days=3, hours=1)))
    # a machine's session starting now (a minute ahead: the database's clock, read after
    # Python's, must not have turned midnight before it)
    await UsageSession.insert(UsageSession(key="now", machine=march.ids["printer"], job_key="now",
                                           started_at=now + timedelta(minutes=1), outcome="completed"))
    assert await database.DB.run_querystring(_changes()) == before
    await booking(march.ids["printer"], march.ids["maker"], "2026-03-03 10:00", "2026-03-03 11:00")
    assert await database.DB.run_querystring(_changes()) != before


def _changes():
    from fabbooking.prepared import WrittenStatement

    return WrittenStatement("SELECT day, changes FROM figures_change ORDER BY day", [])


async def test_a_month_not_closed_for_the_database_is_never_kept(march):
    """Python's clock a year ahead says this month is long over; the database's says it is
    running: it is computed on every request, and a booking in it shows at once."""
    this_month = Month.of(datetime.now(UTC), PARIS)
    start = datetime(this_month.year, this_month.month, 1, 10, tzinfo=PARIS)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=True):
        now = datetime.now(UTC)
        first = await services.month_figures(this_month, now)
        with counting_statements() as seen:
            await Booking.insert(Booking(machine=march.ids["printer"], maker=march.ids["maker"],
                                         booked_by=march.ids["maker"], start_at=start,
                                         end_at=start + timedelta(hours=1)))
            second = await services.month_figures(this_month, now)
    assert second.network.bookings == first.network.bookings + 1
    assert sum(1 for sql in seen.sql if "WITH bounds" in sql) == 6  # computed again
    assert any("figures_change" in sql for sql in seen.sql)  # the database was asked, and said no


async def test_a_kept_month_holds_only_until_its_next_booking_is_due(march):
    """« now » decides which confirmed bookings are due (the no-show rate's denominator):
    a month kept at one moment is computed again once a booking of it has ended since."""
    await booking(march.ids["laser"], march.ids["maker"], "2026-03-31 20:00", "2026-04-06 20:00")
    early = paris("2026-04-06 10:00")  # that booking is not over yet; every other one is
    first = await services.month_figures(Month(2026, 3), early)
    assert (await services.month_figures(Month(2026, 3), early + timedelta(hours=9))) is first  # kept
    later = await services.month_figures(Month(2026, 3), paris("2026-04-06 21:00"))
    atelier = march.ids["atelier"]
    assert later.site(atelier).due_bookings == first.site(atelier).due_bookings + 1
    # and back before it (a clock moved back): the earlier figures again, not the later
    assert (await services.month_figures(Month(2026, 3), early)).site(atelier).due_bookings == \
        first.site(atelier).due_bookings


async def test_a_machine_deleted_changes_the_stamp_of_every_month(march):
    from tests.conftest import make_machine

    months = [Month(2021, 1), Month(2026, 3)]  # far apart: nothing of the machine's own in either
    sites = await queries.sites()
    spare = await make_machine(march.ids["ailleurs"], "spare")
    found = await kept_months.stamps(months, sites, datetime.now(UTC))
    assert found is not None
    await Machine.delete().where(Machine.id == spare)
    again = await kept_months.stamps(months, sites, datetime.now(UTC))
    assert again is not None and all(again.closed[month] > found.closed[month] for month in months)


async def test_the_stamp_reads_a_range_of_the_primary_key(db, march):
    """A thousand years of days: the stamp of 60 months reads each month's few days by the
    primary key, on both databases."""
    from tests.test_query_plans import _plans

    if db.kind == "postgres":
        await database.DB.run_ddl("INSERT INTO figures_change (day, changes) SELECT n, 1 "
                                  "FROM generate_series(0, 20000) AS n ON CONFLICT (day) DO NOTHING")
        await database.DB.run_ddl("ANALYZE figures_change")
    else:
        await database.DB.run_ddl("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
                                  "INSERT OR IGNORE INTO figures_change (day, changes) SELECT i, 1 FROM n")
    sites = await queries.sites()
    with counting_statements() as seen:
        found = await kept_months.stamps(month_range(Month(2021, 1), Month(2025, 12)), sites, datetime.now(UTC))
    assert found is not None and len(found.closed) == 60
    [(sql, plan)] = await _plans(db, seen, watched=("figures_change",))
    if db.kind == "postgres":  # the session's other tests share this database: its days go again
        await database.DB.run_ddl("DELETE FROM figures_change WHERE day BETWEEN 0 AND 20000")
        assert "Seq Scan" not in plan and "figures_change_pkey" in plan, plan
    else:
        assert "SCAN figures_change" not in plan and "INTEGER PRIMARY KEY" in plan, plan
