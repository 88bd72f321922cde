"""Closed months' figures, kept per process and used again only while nothing they count
has changed: a write into a closed month shows on the very next request.

The database keeps a *history stamp* (migration figures_2026_12_06t00_00_00_000000): a
counter per UTC day, bumped by triggers whenever a booking, usage session, workshop, its
registrations or attendance, or a project is written with a moment on a day already over,
and a counter « day -1 » for the rows that reach far from their day (sessions longer than 7
days, machines moved to another site or changing kind). Counters only go up, so the sum
over a month's days changes with anything written into it. A month's days run from 8 days
before its earliest start at any site (a booking lasts at most 7 days, a shorter session too)
to its latest end.

A month is kept only when it is *closed* as the database sees it: its last day at least two
days before the database's current UTC day. The triggers bump every day before the current
one, so the day between leaves a whole day to a write that began before midnight and
commits after; a clock moved in Python (tests) can only keep fewer months, never show an
old one. The stamp is read before the figures of a month not kept are computed: a write
racing the computation makes the next request compute again.

The figures also depend on « now » through the confirmed bookings already over: a kept
month holds only while « now » stays between the ends of its due bookings around the «
now » it was computed for (queries.py reads them with the bookings' totals).

The current month, and the months not closed yet, are computed on every request. A restore
brings the database back with its own counters and moves day -1 on by a random amount with
the tables (PostgreSQL: in the restore's one transaction; SQLite: in the copy loaded,
backups/databases.py): every month's stamp changes, so nothing kept by a process left
running outlives it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking import database
from fabbooking.bookings.rules import LONGEST_BOOKING
from fabbooking.figures.monthly import Month, MonthResult, SiteRow, window
from fabbooking.prepared import WrittenStatement

DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BEFORE = LONGEST_BOOKING + DAY  # the days read before a month's first moment
CLOSED_AFTER = 2  # days: a month is kept when its last day is this many days over
FAR = -1  # the counter of the rows that reach far from their own day
MAX_KEPT = 600  # months × sets of sites; a dashboard reads twelve


def day_of(moment: datetime) -> int:
    """The UTC day of ``moment``, counted from 1970-01-01 (as the triggers count)."""
    return (moment - EPOCH) // DAY


def days_of(month: Month, sites: Sequence[SiteRow]) -> tuple[int, int]:
    """The first and last day whose counters the month's figures depend on."""
    lower, upper = window(month, sites)
    return day_of(lower - BEFORE), day_of(upper)


@dataclass(frozen=True)
class Stamps:
    """The stamp of each closed month asked for (the others are not there)."""

    engine: object
    closed: dict[Month, int]


async def stamps(wanted: Sequence[Month], sites: Sequence[SiteRow], now: datetime) -> Stamps | None:
    """The stamps of the months of ``wanted`` that may be closed, in one statement; None
    (no statement) when ``now`` says that none is."""
    days = {month: days_of(month, sites) for month in wanted}
    maybe = [month for month, (_first, last) in days.items() if last <= day_of(now) - CLOSED_AFTER]
    if not maybe:
        return None
    engine = database.DB
    postgres = database.is_postgres(engine)
    today = ("(statement_timestamp() AT TIME ZONE 'UTC')::date - date '1970-01-01'" if postgres
             else "CAST(strftime('%s', 'now') AS INTEGER) / 86400")
    number = "{}::integer" if postgres else "{}"
    summed = [f"(SELECT COALESCE(SUM(changes), 0) FROM figures_change WHERE day >= {number} AND day <= {number})"
              for _month in maybe]
    sql = (f"SELECT {today} AS today, (SELECT COALESCE(SUM(changes), 0) FROM figures_change WHERE day = {FAR}) "
           "AS far, " + ", ".join(f"{s} AS m{n}" for n, s in enumerate(summed)))
    row = (await engine.run_querystring(WrittenStatement(sql, [d for m in maybe for d in days[m]])))[0]
    today_number, far = int(row["today"]), int(row["far"])
    return Stamps(engine, {month: int(row[f"m{n}"]) + far for n, month in enumerate(maybe)
                           if days[month][1] <= today_number - CLOSED_AFTER})


@dataclass(frozen=True)
class _Kept:
    stamp: int
    result: MonthResult


_kept: OrderedDict[tuple, _Kept] = OrderedDict()


def _key(month: Month, sites: Sequence[SiteRow], engine: object) -> tuple:
    # the engine itself (hashed by identity, kept alive by the key): another database's
    # months are other months; sites carry their timezone: a site moved has other months
    return (engine, month, tuple(sites))


def kept(month: Month, sites: Sequence[SiteRow], now: datetime, found: Stamps | None) -> MonthResult | None:
    """The month's figures as kept, if the month is closed, nothing in it has changed since
    and « now » has not moved past one of its bookings' ends."""
    if found is None or month not in found.closed:
        return None
    key = _key(month, sites, found.engine)
    hit = _kept.get(key)
    if hit is None or hit.stamp != found.closed[month]:
        return None
    since, until = hit.result.steady
    if (since is not None and now < since) or (until is not None and now >= until):
        return None
    _kept.move_to_end(key)
    return hit.result


def keep(month: Month, sites: Sequence[SiteRow], found: Stamps | None, result: MonthResult) -> None:
    """Keep a closed month's figures, computed after ``found`` was read."""
    if found is None or month not in found.closed:
        return
    key = _key(month, sites, found.engine)
    _kept[key] = _Kept(found.closed[month], result)
    _kept.move_to_end(key)
    while len(_kept) > MAX_KEPT:
        _kept.popitem(last=False)


def forget() -> None:
    """Nothing kept (tests that count what a first request costs)."""
    _kept.clear()
