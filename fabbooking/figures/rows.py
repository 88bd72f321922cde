"""What each figure counts, said on plain rows (pure).

The server never reads a month row by row: queries.py has the database add the rows up.
This module says the same thing in Python, one row at a time — the definition the SQL must
agree with (tests hold it to that on SQLite and PostgreSQL, over many generated months),
and what the pure tests of the figures are written against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fabbooking.figures.monthly import (
    AttendanceTotal,
    BookingTotal,
    Month,
    MonthResult,
    ProjectTotal,
    SessionTotal,
    SiteRow,
    Totals,
    WorkshopTotal,
    bounds,
    month_result,
)

# a session with a duration but no recorded end (older rows) is looked for this far back
LOOK_BACK = timedelta(days=1)


@dataclass(frozen=True)
class BookingRow:
    site_id: int
    machine_kind: str
    maker_id: int
    start_at: datetime
    end_at: datetime
    status: str  # confirmed | cancelled | no_show
    purpose: str = "maker"  # maker | workshop


@dataclass(frozen=True)
class SessionRow:
    site_id: int
    machine_kind: str
    started_at: datetime
    duration_s: float | None
    walk_in: bool = False
    ended_at: datetime | None = None


@dataclass(frozen=True)
class WorkshopRow:
    site_id: int
    starts_at: datetime
    status: str  # planned | done | cancelled
    attendance: tuple[tuple[str, int, int], ...] = ()  # (audience, head_count, first_timers)
    registrations: int = 0  # places held (status registered)


@dataclass(frozen=True)
class ProjectRow:
    site_id: int | None
    created_at: datetime
    done_at: datetime | None = None


def overlap_seconds(start: datetime, end: datetime, lower: datetime, upper: datetime) -> float:
    """Seconds of [start, end) inside [lower, upper)."""
    return max((min(end, upper) - max(start, lower)).total_seconds(), 0.0)


def overlap_hours(start: datetime, end: datetime, lower: datetime, upper: datetime) -> float:
    """Hours of [start, end) inside [lower, upper)."""
    return overlap_seconds(start, end, lower, upper) / 3600


def session_end(row: SessionRow) -> datetime | None:
    if row.duration_s is not None:
        return row.started_at + timedelta(seconds=max(row.duration_s, 0.0))
    return row.ended_at


def _session_seen(row: SessionRow, lower: datetime, upper: datetime) -> bool:
    """Whether a session is read for a month at all: started in it, or still running into it
    (a row with a duration but no recorded end is looked for LOOK_BACK before)."""
    return row.started_at < upper and (
        row.started_at >= lower or (row.ended_at is not None and row.ended_at > lower)
        or (row.ended_at is None and row.started_at >= lower - LOOK_BACK))


def totals_from_rows(
    months: Iterable[Month],
    sites: Sequence[SiteRow],
    now: datetime,
    bookings: Iterable[BookingRow] = (),
    sessions: Iterable[SessionRow] = (),
    workshops: Iterable[WorkshopRow] = (),
    projects: Iterable[ProjectRow] = (),
) -> Totals:
    """What queries.totals reads from the database, from plain rows."""
    bookings, sessions, workshops, projects = list(bookings), list(sessions), list(workshops), list(projects)
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0])
    makers: dict[tuple, set[int]] = defaultdict(set)
    for b in bounds(months, sites):
        lower, upper, key = b.lower, b.upper, (b.site_id, b.month)
        for r in bookings:
            if b.site_id is None or r.site_id != b.site_id or not (r.start_at < upper and r.end_at > lower):
                continue
            starts_here = lower <= r.start_at < upper
            cell = sums[("booking", *key, r.machine_kind, r.status, r.purpose)]
            cell[0] += starts_here
            cell[1] += starts_here and r.end_at <= now
            cell[2] += overlap_seconds(r.start_at, r.end_at, lower, upper)
            if starts_here and r.purpose == "maker" and r.status == "confirmed":
                makers[key].add(r.maker_id)
                makers[(None, b.month)].add(r.maker_id)
        for r in sessions:
            end = session_end(r)
            if b.site_id is None or r.site_id != b.site_id or end is None or not _session_seen(r, lower, upper):
                continue
            cell = sums[("session", *key, r.machine_kind, bool(r.walk_in))]
            cell[0] += lower <= r.started_at < upper
            cell[2] += overlap_seconds(r.started_at, end, lower, upper)
        for r in workshops:
            if r.site_id != b.site_id or not (lower <= r.starts_at < upper) or r.status == "cancelled":
                continue
            cell = sums[("workshop", *key, r.status)]
            cell[0] += 1
            cell[1] += r.registrations
            if r.status == "done":
                for audience, head_count, first_timers in r.attendance:
                    cell = sums[("attendance", *key, audience)]
                    cell[0] += head_count or 0
                    cell[1] += first_timers or 0
        for r in projects:
            if r.site_id != b.site_id:
                continue
            started = lower <= r.created_at < upper
            finished = r.done_at is not None and lower <= r.done_at < upper
            if started or finished:
                cell = sums[("project", *key)]
                cell[0] += started
                cell[1] += finished
    totals = Totals(makers={key: len(ids) for key, ids in makers.items()})
    for (kind, *key), (first, second, seconds) in sums.items():
        if kind == "booking":
            totals.add(BookingTotal(*key, starting=first, starting_over=second, seconds=seconds))
        elif kind == "session":
            totals.add(SessionTotal(*key, starting=first, seconds=seconds))
        elif kind == "workshop":
            totals.add(WorkshopTotal(*key, workshops=first, registrations=second))
        elif kind == "attendance":
            totals.add(AttendanceTotal(*key, head_count=first, first_timers=second))
        else:
            totals.add(ProjectTotal(*key, started=first, finished=second))
    return totals


def compute_month(
    month: Month,
    sites: Sequence[SiteRow],
    now: datetime,
    bookings: Sequence[BookingRow] = (),
    sessions: Sequence[SessionRow] = (),
    workshops: Sequence[WorkshopRow] = (),
    projects: Sequence[ProjectRow] = (),
) -> MonthResult:
    """Every site's month and the network's, from one set of rows."""
    totals = totals_from_rows([month], sites, now, bookings, sessions, workshops, projects)
    return month_result(month, sites, totals)
