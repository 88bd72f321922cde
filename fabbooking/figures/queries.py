"""A few months' figures added up by the database: one aggregate statement per kind of row
(bookings, distinct makers, usage sessions, workshops, attendance, projects), whatever the
number of months, sites and rows.

Every statement joins its rows to ``bounds``, a small table of each site's months (their
first and last moment in UTC, in the site's timezone), and groups by site and month, so
Python receives a few totals per site instead of every booking. Each reads an index range
bounded on both sides: a booking lasts at most LONGEST_BOOKING, so the bookings touching a
month start at most that long before it; a usage session is found by its start, or by its
end when it started more than LOOK_BACK before (index usage_session_ended_started).

Only counts and durations leave the database — never a name, a note or a title. Durations
are computed in SQL: julianday() on SQLite (timestamps are UTC text), date_part('epoch')
on PostgreSQL. rows.py says the same on plain rows; tests hold these statements to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fabbooking import database
from fabbooking.bookings.rules import LONGEST_BOOKING
from fabbooking.figures.monthly import (
    AttendanceTotal,
    BookingTotal,
    Bounds,
    Month,
    ProjectTotal,
    SessionTotal,
    SiteRow,
    Totals,
    WorkshopTotal,
)
from fabbooking.figures.rows import LOOK_BACK
from fabbooking.network.tables import Site
from fabbooking.prepared import WrittenStatement
from fabbooking.stored_moments import aware


async def sites() -> list[SiteRow]:
    rows = await Site.select(Site.id, Site.slug, Site.name, Site.timezone).order_by(Site.name)
    return [SiteRow(r["id"], r["slug"], r["name"], r["timezone"] or "Europe/Paris") for r in rows]




class _Dialect:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.bound = ("({}::bigint, {}::integer, {}::timestamptz, {}::timestamptz, {}::timestamptz, "
                      "{}::timestamptz)" if postgres else "({}, {}, {}, {}, {}, {})")

    def window(self, column: str) -> str:
        """PostgreSQL also gets the whole window as constants, so that it plans one index
        range and a hash join; SQLite loops over ``bounds`` and reads each site's month from
        the (machine, time) index, which a constant range would take the place of."""
        return f"AND {column} >= {{}} AND {column} < {{}} " if self.postgres else ""

    def window_args(self, lower: datetime, upper: datetime) -> list:
        return [lower, upper] if self.postgres else []

    def seconds(self, start: str, end: str) -> str:
        """Seconds from ``start`` to ``end`` (timestamps)."""
        if self.postgres:
            return f"date_part('epoch', {end} - {start})"
        # julianday() holds milliseconds; the difference of two is rounded back to them
        return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.postgres else f"MIN({a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.postgres else f"MAX({a}, {b})"

    def longer_than_a_day(self) -> str:
        """Sessions that may have begun a day before a month and still run into it (a little
        more than that: the exact test follows)."""
        if self.postgres:
            return "s.ended_at - s.started_at > interval '23 hours'"
        return "julianday(s.ended_at) - julianday(s.started_at) > 0.95"

    def session_seconds(self) -> str:
        """A session's seconds inside its bounds' month, never below 0; its end is
        started_at + duration_s when the duration is known, else ended_at."""
        if self.postgres:
            end = ("CASE WHEN s.duration_s IS NOT NULL THEN s.started_at + GREATEST(s.duration_s, 0) "
                   "* interval '1 second' ELSE s.ended_at END")
            return f"GREATEST(0, date_part('epoch', LEAST({end}, bd.hi) - GREATEST(s.started_at, bd.lo)))"
        end = ("CASE WHEN s.duration_s IS NOT NULL THEN julianday(s.started_at) + MAX(s.duration_s, 0) "
               "/ 86400.0 ELSE julianday(s.ended_at) END")
        return (f"MAX(0, ROUND((MIN({end}, julianday(bd.hi)) - MAX(julianday(s.started_at), julianday(bd.lo)))"
                " * 86400.0, 3))")


def _bounds_table(found: Sequence[Bounds], dialect: _Dialect) -> tuple[str, list]:
    """``WITH bounds(site, month, lo, hi, look_back, earliest) AS (VALUES …)``: one row per
    site and month, [lo, hi) in UTC; a session is looked for from ``look_back``, a booking
    from ``earliest`` (LONGEST_BOOKING before lo). Site 0 is the default timezone's month
    (projects without a site)."""
    values = ", ".join([dialect.bound] * len(found))
    args = [value for b in found for value in (b.site_id or 0, b.month.index(), b.lower, b.upper,
                                               b.lower - LOOK_BACK, b.lower - LONGEST_BOOKING)]
    return f"WITH bounds(site, month, lo, hi, look_back, earliest) AS (VALUES {values}) ", args


_DUE = "b.status = 'confirmed' AND b.purpose = 'maker'"  # the bookings monthly.site_month counts as due


def _month(index: int) -> Month:
    return Month(index // 12, index % 12 + 1)


async def _run(sql: str, args: list) -> list[dict]:
    return await database.DB.run_querystring(WrittenStatement(sql, args))


async def totals(found: Sequence[Bounds], now: datetime) -> Totals:
    """The totals of every site's months in ``found`` (six statements)."""
    dialect = _Dialect(database.is_postgres())
    head, head_args = _bounds_table(found, dialect)
    lower, upper = min(b.lower for b in found), max(b.upper for b in found)
    result = Totals()

    booking_seconds = dialect.seconds(dialect.greatest("b.start_at", "bd.lo"), dialect.least("b.end_at", "bd.hi"))
    for r in await _run(
        head + "SELECT bd.site AS site, bd.month AS month, m.kind AS kind, b.status AS status, "
        "b.purpose AS purpose, SUM(CASE WHEN b.start_at >= bd.lo THEN 1 ELSE 0 END) AS starting, "
        "SUM(CASE WHEN b.start_at >= bd.lo AND b.end_at <= {} THEN 1 ELSE 0 END) AS starting_over, "
        # « now » counts only through the confirmed makers' bookings over by then: the month's
        # figures stay the same while « now » stays between these two ends (kept_months.py)
        "MAX(CASE WHEN b.start_at >= bd.lo AND b.end_at <= {} AND " + _DUE + " THEN b.end_at END) AS due_last, "
        "MIN(CASE WHEN b.start_at >= bd.lo AND b.end_at > {} AND " + _DUE + " THEN b.end_at END) AS due_next, "
        f"SUM({booking_seconds}) AS seconds "
        "FROM bounds AS bd JOIN machine AS m ON m.site = bd.site JOIN booking AS b ON b.machine = m.id "
        "AND b.start_at >= bd.earliest AND b.start_at < bd.hi AND b.end_at > bd.lo "
        + dialect.window("b.start_at") + "GROUP BY bd.site, bd.month, m.kind, b.status, b.purpose",
        [*head_args, now, now, now, *dialect.window_args(lower - LONGEST_BOOKING, upper)],
    ):
        result.due(_month(r["month"]), r["due_last"] and aware(r["due_last"]),
                   r["due_next"] and aware(r["due_next"]))
        result.add(BookingTotal(r["site"], _month(r["month"]), r["kind"], r["status"], r["purpose"],
                                int(r["starting"]), int(r["starting_over"]), float(r["seconds"] or 0)))

    makers_of = ("FROM bounds AS bd JOIN machine AS m ON m.site = bd.site JOIN booking AS b "
                 "ON b.machine = m.id AND b.start_at >= bd.lo AND b.start_at < bd.hi "
                 "WHERE " + _DUE + " " + dialect.window("b.start_at"))
    for r in await _run(
        head + "SELECT bd.site AS site, bd.month AS month, COUNT(DISTINCT b.maker) AS makers "
        + makers_of + "GROUP BY bd.site, bd.month UNION ALL "
        "SELECT NULL, bd.month, COUNT(DISTINCT b.maker) " + makers_of + "GROUP BY bd.month",
        [*head_args, *dialect.window_args(lower, upper) * 2],
    ):
        result.makers[(r["site"], _month(r["month"]))] = int(r["makers"])

    # sessions started from LOOK_BACK before the month (index (machine, started_at)), and
    # older ones still running into it, found by their end (index (ended_at, started_at))
    seen = ("s.started_at < bd.hi AND (s.started_at >= bd.lo OR s.ended_at > bd.lo "
            "OR (s.ended_at IS NULL AND s.started_at >= bd.look_back)) "
            "AND (s.duration_s IS NOT NULL OR s.ended_at IS NOT NULL) ")
    picked = ("SELECT bd.site AS site, bd.month AS month, m.kind AS kind, s.walk_in AS walk_in, "
              "CASE WHEN s.started_at >= bd.lo THEN 1 ELSE 0 END AS starting, "
              f"{dialect.session_seconds()} AS seconds ")
    for r in await _run(
        head + "SELECT site, month, kind, walk_in, SUM(starting) AS starting, SUM(seconds) AS seconds FROM ("
        + picked + "FROM bounds AS bd JOIN machine AS m ON m.site = bd.site JOIN usage_session AS s "
        "ON s.machine = m.id AND s.started_at >= bd.look_back AND s.started_at < bd.hi WHERE " + seen
        + dialect.window("s.started_at") + "UNION ALL "
        # CROSS JOIN: SQLite keeps usage_session as the outer loop, read by its end
        + picked + "FROM usage_session AS s JOIN machine AS m ON m.id = s.machine CROSS JOIN bounds AS bd "
        "WHERE s.ended_at > {} AND s.started_at < {} AND " + dialect.longer_than_a_day()
        + " AND bd.site = m.site AND s.started_at < bd.look_back AND " + seen
        + ") AS picked GROUP BY site, month, kind, walk_in",
        [*head_args, *dialect.window_args(lower - LOOK_BACK, upper), lower, upper - LOOK_BACK],
    ):
        result.add(SessionTotal(r["site"], _month(r["month"]), r["kind"], bool(r["walk_in"]),
                                int(r["starting"]), float(r["seconds"] or 0)))

    held = ("JOIN bounds AS bd ON bd.site = w.site AND w.starts_at >= bd.lo AND w.starts_at < bd.hi ")
    starting = "WHERE w.starts_at >= {} AND w.starts_at < {} "
    for r in await _run(
        head + "SELECT bd.site AS site, bd.month AS month, w.status AS status, "
        "COUNT(DISTINCT w.id) AS workshops, COUNT(r.id) AS registrations FROM workshop AS w " + held
        + "LEFT JOIN workshop_registration AS r ON r.workshop = w.id AND r.status = 'registered' " + starting
        + "AND w.status <> 'cancelled' GROUP BY bd.site, bd.month, w.status",
        [*head_args, lower, upper],
    ):
        result.add(WorkshopTotal(r["site"], _month(r["month"]), r["status"], int(r["workshops"]),
                                 int(r["registrations"])))
    for r in await _run(
        head + "SELECT bd.site AS site, bd.month AS month, a.audience AS audience, "
        "SUM(COALESCE(a.head_count, 0)) AS head_count, SUM(COALESCE(a.first_timers, 0)) AS first_timers "
        "FROM workshop_attendance AS a JOIN workshop AS w ON w.id = a.workshop " + held + starting
        + "AND w.status = 'done' GROUP BY bd.site, bd.month, a.audience",
        [*head_args, lower, upper],
    ):
        result.add(AttendanceTotal(r["site"], _month(r["month"]), r["audience"], int(r["head_count"]),
                                   int(r["first_timers"])))

    def inside(column: str) -> str:
        return f"SUM(CASE WHEN {column} >= bd.lo AND {column} < bd.hi THEN 1 ELSE 0 END)"
    for r in await _run(
        head + f"SELECT bd.site AS site, bd.month AS month, {inside('p.created_at')} AS started, "
        f"{inside('p.done_at')} AS finished "
        "FROM project AS p JOIN bounds AS bd ON bd.site = COALESCE(p.site, 0) "
        "WHERE (p.created_at >= {} AND p.created_at < {}) OR (p.done_at >= {} AND p.done_at < {}) "
        "GROUP BY bd.site, bd.month",
        [*head_args, lower, upper, lower, upper],
    ):
        started, finished = int(r["started"]), int(r["finished"])
        if started or finished:
            result.add(ProjectTotal(r["site"] or None, _month(r["month"]), started, finished))
    return result
