"""Small counts of people are not published (pure, but for reading the threshold).

Rule (k-anonymity, k = FABBOOKING_OPEN_DATA_MIN_COUNT, default 3):

- a count of PEOPLE (attendance by audience and in total, first-timers, registrations,
  distinct makers) from 1 to k-1 is suppressed: null in JSON, an empty cell in CSV,
  « masqué » on the public dashboard (not « < 3 »: secondary suppression hides larger
  counts too). Zero stays zero (« nobody came » reveals nobody).
- counts of EVENTS and machine hours (bookings, cancellations, no-shows, sessions,
  walk-ins, workshops held, projects, hours) are not suppressed: they describe machines
  and the calendar, not people, and the public week grids already show every booking
  without a name.
- secondary suppression: wherever a total is the sum of parts (a row's attendance is the
  sum of its audiences; the network's count is the sum of its sites'), each such line is
  protected on its own, again and again until nothing changes:
  * a published total with suppressed parts needs at least two suppressed parts, adding
    up to at least k and to more than their number (every suppressed cell is known to be
    at least 1, as zero stays zero: three hidden cells under a published 3 are three 1s);
    otherwise the smallest published non-zero part is suppressed too, or the total itself
    when no part is left to hide;
  * a suppressed total whose parts are all published is found again by adding them up,
    so the smallest non-zero part is suppressed too.
  A line with exactly one suppressed cell always gives it away by subtraction, and that
  cell (even a large one) then gives away a small one in the crossing line: hence « at
  least two ». Distinct makers are not a sum over sites (a person counts once in the
  network): the network's count is hidden when it would need every hidden site's count
  at k-1 (2 + 2 disjoint makers under a published 4).
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


def _protect(total_cell: tuple[dict, str], cells: list[tuple[dict, str]], originals: dict[int, dict],
             k: int) -> bool:
    """Make the line « total = sum of cells » give no suppressed value away by subtraction;
    True when a cell was suppressed (the caller goes round again)."""
    total_row, total_column = total_cell
    hidden = [originals[id(row)][col] for row, col in cells if row[col] is None]
    if total_row[total_column] is None:
        # a hidden total is found again by adding up its parts when all are published
        return not hidden and _hide_smallest(cells)
    if not hidden:
        return False
    if len(hidden) >= 2 and sum(hidden) >= k and sum(hidden) > len(hidden):
        return False
    if _hide_smallest(cells):
        return True
    if total_row[total_column]:
        total_row[total_column] = None  # nothing left to hide among the parts
        return True
    return False


def _lines(rows: list[dict], total: dict | None) -> list[tuple[tuple[dict, str], list[tuple[dict, str]]]]:
    """Every « total = sum of parts » the published records contain."""
    lines = [((row, total_column), [(row, c) for c in parts])
             for row in rows + ([total] if total is not None else [])
             for total_column, parts in ROW_GROUPS]
    if total is not None:
        lines += [((total, column), [(r, column) for r in rows]) for column in SUMMED_PEOPLE_COLUMNS]
    return lines


_UNBOUNDED = 10**9
ROUNDS = 20


def _at_most(rows: list[dict], total: dict | None) -> list[tuple[tuple[dict, str], tuple[dict, str]]]:
    """(small, big) cells where small <= big: first-timers are among the participants."""
    pairs = []
    for row in rows + ([total] if total is not None else []):
        pairs.append(((row, "first_timers_total"), (row, "attendance_total")))
        pairs += [((row, small), (row, big)) for small, big in zip(FIRST_TIMER_COLUMNS, ATTENDANCE_COLUMNS, strict=True)]
    return pairs


def _pinned(lines, at_most=()) -> list[tuple[dict, str]]:
    """The suppressed cells a reader can still work out exactly, from the published cells,
    the sums, « first-timers are among the participants » and « every suppressed cell is at
    least 1 », by narrowing each suppressed cell's possible range line by line (e.g. two
    hidden site totals under a published 4, each the sum of two hidden parts, are both 2,
    and then every part is 1)."""
    low: dict[tuple[int, str], int] = {}
    high: dict[tuple[int, str], int] = {}

    def bounds(cell: tuple[dict, str]) -> tuple[int, int]:
        row, col = cell
        if row[col] is not None:
            return row[col], row[col]
        key = (id(row), col)
        return low.setdefault(key, 1), high.setdefault(key, _UNBOUNDED)

    def narrow(cell: tuple[dict, str], lo: int, hi: int) -> bool:
        row, col = cell
        if row[col] is not None:
            return False
        key = (id(row), col)
        old = bounds(cell)
        low[key], high[key] = max(old[0], lo), min(old[1], hi)
        return (low[key], high[key]) != old

    # a few rounds find what a reader finds by hand (each round follows every line once);
    # ranges that keep shrinking by a little each round are far from a single value
    for _round in range(ROUNDS):
        changed = False
        for total_cell, parts in lines:
            part_bounds = [bounds(p) for p in parts]
            sum_lo = sum(b[0] for b in part_bounds)
            sum_hi = sum(b[1] for b in part_bounds)
            changed |= narrow(total_cell, sum_lo, sum_hi)
            t_lo, t_hi = bounds(total_cell)
            for part, (lo, hi) in zip(parts, part_bounds, strict=True):
                if part[0][part[1]] is None:
                    changed |= narrow(part, t_lo - (sum_hi - hi), t_hi - (sum_lo - lo))
        for small, big in at_most:
            s_lo, _s_hi = bounds(small)
            _b_lo, b_hi = bounds(big)
            changed |= narrow(big, s_lo, _UNBOUNDED)
            changed |= narrow(small, 0, b_hi)
        if not changed:
            break
    pinned, seen = [], set()
    for total_cell, parts in lines:
        for row, col in (total_cell, *parts):
            key = (id(row), col)
            if row[col] is None and key not in seen and low[key] >= high[key]:
                seen.add(key)
                pinned.append((row, col))
    return pinned


def _through(lines, cell: tuple[dict, str]):
    """The lines in which ``cell`` (that very record's column) takes part."""
    row, col = cell
    for total_cell, parts in lines:
        if any(r is row and c == col for r, c in (total_cell, *parts)):
            yield total_cell, parts


def _unpin(lines, cell: tuple[dict, str], at_most=()) -> bool:
    """Suppress one more cell in a line through ``cell``: a part, or else the total, or
    else the first-timers (participants) count bounding it."""
    for _total_cell, parts in _through(lines, cell):
        if _hide_smallest(parts):
            return True
    for (row, col), _parts in _through(lines, cell):
        if row[col]:
            row[col] = None
            return True
    for small, big in at_most:
        for mine, other in ((small, big), (big, small)):
            if mine[0] is cell[0] and mine[1] == cell[1] and other[0][other[1]]:
                other[0][other[1]] = None
                return True
    return False


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
    lines = _lines(rows, total)
    at_most = _at_most(rows, total)
    changed = True
    while changed:
        changed = False
        for total_cell, parts in lines:
            changed |= _protect(total_cell, parts, originals, k)
        if not changed:
            # the lines hold one by one; check them together (a value found in one line
            # may give away a cell of another)
            # each pinned cell gets one more hidden cell in its lines, then the lines again
            for cell in _pinned(lines, at_most):
                if cell[0][cell[1]] is None:
                    changed |= _unpin(lines, cell, at_most)
    if total is not None:
        _protect_distinct_makers(rows, total, k)
    return rows, total


def _protect_distinct_makers(rows: list[dict], total: dict, k: int) -> None:
    """The network's distinct makers are at most the sum of the sites' (a person counts once
    in the network, maybe at several sites). Hidden sites' counts are 1..k-1; when the
    network's count needs every one of them at k-1 (2 + 2 disjoint makers under a published
    4), they are found again: hide the network's count instead."""
    column = "distinct_makers"
    if total.get(column) is None:
        return
    hidden = [r for r in rows if r.get(column) is None]
    shown = sum(r[column] for r in rows if r.get(column) is not None)
    if hidden and total[column] - shown >= len(hidden) * (k - 1):
        total[column] = None
