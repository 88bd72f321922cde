"""Small counts of people are not published (pure, but for reading the threshold).

Rule (k-anonymity, k = FABBOOKING_OPEN_DATA_MIN_COUNT, default 3):

- a count of PEOPLE (attendance by audience and in total, first-timers, registrations,
  distinct makers) from 1 to k-1 is suppressed: null in JSON, an empty cell in CSV,
  « < 3 » on the public dashboard. Zero stays zero (« nobody came » reveals nobody).
- counts of EVENTS and machine hours (bookings, cancellations, no-shows, sessions,
  walk-ins, workshops held, projects, hours) are not suppressed: they describe machines
  and the calendar, not people, and the public week grids already show every booking
  without a name.
- secondary suppression: wherever a published total is the sum of parts (a row's
  attendance is the sum of its audiences; the network's count is the sum of its sites'),
  the suppressed parts must add up to at least k, otherwise the smallest published
  non-zero part is suppressed too — so no suppressed value can be found by subtraction.
  Distinct makers are not a sum over sites (a person counts once in the network), so
  only their primary rule applies.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from fabbooking.figures.records import ATTENDANCE_COLUMNS, FIRST_TIMER_COLUMNS
from fabbooking.settings import ConfigError

DEFAULT_MIN_COUNT = 3
MAX_MIN_COUNT = 100
ENV = "FABBOOKING_OPEN_DATA_MIN_COUNT"

PEOPLE_COLUMNS: tuple[str, ...] = (
    "attendance_total", "first_timers_total", *ATTENDANCE_COLUMNS, *FIRST_TIMER_COLUMNS,
    "registrations", "distinct_makers",
)
# columns whose network value is the sum of the sites' values
SUMMED_PEOPLE_COLUMNS = tuple(c for c in PEOPLE_COLUMNS if c != "distinct_makers")
# (total, parts) inside one record
ROW_GROUPS = (("attendance_total", ATTENDANCE_COLUMNS), ("first_timers_total", FIRST_TIMER_COLUMNS))


def min_count(environ: dict[str, str] | None = None) -> int:
    """The threshold k from FABBOOKING_OPEN_DATA_MIN_COUNT (default 3)."""
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_COUNT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_MIN_COUNT:
        raise ConfigError(
            f"{ENV}={raw!r} is not understood. Give a whole number from 1 (publish every "
            f"count) to {MAX_MIN_COUNT}; counts of people below it are left out of the open "
            f"data and the public dashboards. The usual value is {DEFAULT_MIN_COUNT}."
        )
    return value


def is_small(value: Any, k: int) -> bool:
    """1..k-1: a count that would point at too few people."""
    return isinstance(value, int) and 0 < value < k


def _hide_smallest(cells: list[tuple[dict, str]]) -> bool:
    """Suppress the smallest published non-zero cell; False when none is left."""
    visible = [(row[col], i) for i, (row, col) in enumerate(cells)
               if row[col] is not None and row[col] > 0]
    if not visible:
        return False
    _, index = min(visible)
    row, col = cells[index]
    row[col] = None
    return True


def _protect(total: Any, cells: list[tuple[dict, str]], originals: dict[int, dict], k: int) -> bool:
    """If ``total`` is published, make the suppressed cells add up to at least k."""
    if total is None:
        return False
    hidden = sum(originals[id(row)][col] for row, col in cells if row[col] is None)
    if hidden == 0 or hidden >= k:
        return False
    return _hide_smallest(cells)


def suppress_month(sites: Sequence[dict[str, Any]], network: dict[str, Any] | None,
                   k: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Copies of one month's site records and network record with people counts
    suppressed (None). All sites of the month must be given together, even when only
    one is published, so that every download suppresses the same cells."""
    rows = [dict(r) for r in sites]
    total = dict(network) if network is not None else None
    everything = rows + ([total] if total is not None else [])
    originals = {id(row): dict(row) for row in everything}
    if k <= 1:
        return rows, total
    for row in everything:
        for column in PEOPLE_COLUMNS:
            if is_small(row.get(column), k):
                row[column] = None
    changed = True
    while changed:
        changed = False
        for row in everything:
            for total_column, parts in ROW_GROUPS:
                changed |= _protect(row[total_column], [(row, c) for c in parts], originals, k)
        if total is not None:
            for column in SUMMED_PEOPLE_COLUMNS:
                changed |= _protect(total[column], [(r, column) for r in rows], originals, k)
    return rows, total
