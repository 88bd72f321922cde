"""No suppressed count of people can be worked out from what the open data publishes: not
by subtraction in one line, not by chaining lines (a large value found in one line giving
away a small one in the crossing line), not by « every hidden cell is at least 1 ».

Each case is checked by brute force: every table of sites × audiences that matches the
published cells (a hidden cell being anything from 1 up) is listed, and each hidden cell
must take at least two values among them."""

from __future__ import annotations

import itertools

import pytest

from fabbooking.figures.suppression import PEOPLE_COLUMNS, suppress_month

AUDIENCES = ("attendance_children", "attendance_adults")
LINE = (*AUDIENCES, "attendance_total")


def _records(table):
    """One record per site (children, adults) and the network's."""
    def record(values):
        row = dict.fromkeys(PEOPLE_COLUMNS, 0)
        row.update(zip(AUDIENCES, values, strict=True))
        row["attendance_total"] = sum(values)
        return row
    network = [sum(site[i] for site in table) for i in range(len(AUDIENCES))]
    return [record(site) for site in table], record(network)


def _cells(sites, network) -> tuple:
    return tuple(row[c] for row in (*sites, network) for c in LINE)


def _recoverable(table, k: int = 3, most: int = 6) -> list[tuple[int, str, int]]:
    """(row, column, value) of every suppressed cell that only one matching table allows."""
    public = _cells(*suppress_month(*_records(table), k))
    hidden = [i for i, v in enumerate(public) if v is None]
    seen = {i: set() for i in hidden}
    for candidate in itertools.product(range(most + 1), repeat=len(table) * len(AUDIENCES)):
        sites = [candidate[i:i + len(AUDIENCES)] for i in range(0, len(candidate), len(AUDIENCES))]
        cells = _cells(*_records(sites))
        if all(c == p if p is not None else c >= 1 for c, p in zip(cells, public, strict=True)):
            for i in hidden:
                seen[i].add(cells[i])
    exact = _cells(*_records(table))
    return [(i // len(LINE), LINE[i % len(LINE)], exact[i]) for i in hidden if len(seen[i]) < 2]


@pytest.mark.parametrize("table, most", [
    # three sites with one child each: a published network 3 is three 1s
    ([(1, 0), (1, 0), (1, 0)], 4),
    # site 2's children (4) alone hidden in its row is 9 - 5; then site 1's = 5 - 4 = 1
    ([(1, 9), (4, 5)], 12),
    # two hidden site totals under a published 4, each the sum of two hidden parts: all 1s
    ([(1, 1), (1, 1), (3, 2)], 5),
    ([(3, 5), (0, 1), (1, 1)], 6),
    # the shapes the first version already handled still hold
    ([(5, 0), (1, 0)], 8),
    ([(10, 0), (2, 0)], 12),
    ([(2, 2), (0, 7)], 9),
])
def test_no_suppressed_count_can_be_worked_out(table, most):
    assert _recoverable(table, most=most) == []


def test_three_single_registrations_do_not_publish_the_network_three():
    sites = [dict.fromkeys(PEOPLE_COLUMNS, 0) | {"registrations": 1} for _ in range(3)]
    network = dict.fromkeys(PEOPLE_COLUMNS, 0) | {"registrations": 3}
    public, total = suppress_month(sites, network, 3)
    assert [r["registrations"] for r in public] == [None] * 3
    assert total["registrations"] is None


def test_large_counts_are_still_published():
    public, total = suppress_month(*_records([(12, 30), (8, 5)]), 3)
    assert _cells(public, total) == _cells(*_records([(12, 30), (8, 5)]))


def test_identical_sites_are_protected_each_on_its_own():
    # two sites with the same figures must not be mistaken for one another
    assert _recoverable([(1, 4), (1, 4)], most=8) == []


# --- the same through the files and the dashboard ------------------------------------------

@pytest.mark.anyio
async def test_one_child_at_each_of_three_sites_is_hidden_everywhere_and_never_called_below_three(client, world):
    import csv
    import io

    from tests.conftest import make_site
    from tests.figures_support import workshop

    third = await make_site("troisieme")
    for site in (world.ids["atelier"], world.ids["ailleurs"], third):
        await workshop(site, "2026-03-20 14:00", "2026-03-20 16:00", "done", [("children", 1, 0)])
    rows = list(csv.DictReader(io.StringIO(
        (await client.get("/open-data/monthly.csv?from=2026-03&to=2026-03")).text)))
    assert {r["attendance_total"] for r in rows} == {""}  # the network's 3 would be three 1s
    assert {r["attendance_children"] for r in rows} == {""}
    json_rows = (await client.get("/open-data/monthly.json?from=2026-03&to=2026-03")).json()["rows"]
    assert {r["attendance_total"] for r in json_rows} == {None}
    api = (await client.get("/api/v1/figures?from=2026-03&to=2026-03", headers=world.auth("animator"))).json()
    assert api["rows"][0]["attendance_total"] is None and api["exact"] is False
    page = (await client.get("/figures?month=2026-03")).text
    tiles = page.split('class="figures-tiles"')[1].split("</ul>")[0]
    # 3 people came: the dashboard hides the number but must not say « < 3 »
    assert '<span class="figures-number">masqué</span> participants' in tiles
    assert "&lt; 3" not in page


def test_distinct_makers_of_hidden_sites_cannot_be_found_from_the_network():
    def month(counts, network):
        sites = [dict.fromkeys(PEOPLE_COLUMNS, 0) | {"distinct_makers": n} for n in counts]
        return suppress_month(sites, dict.fromkeys(PEOPLE_COLUMNS, 0) | {"distinct_makers": network}, 3)

    # two sites with two different makers each: a published 4 would mean « 2 and 2 »
    public, total = month([2, 2], 4)
    assert [r["distinct_makers"] for r in public] == [None, None] and total["distinct_makers"] is None
    # 2 + 10 under 12: the hidden one is 2 → hidden network
    assert month([2, 10], 12)[1]["distinct_makers"] is None
    # the same makers at both sites (network 3): « 1 or 2 » each, the 3 stays
    assert month([2, 2], 3)[1]["distinct_makers"] == 3
    assert month([2, 10], 11)[1]["distinct_makers"] == 11


@pytest.mark.parametrize("children, adults, first_children, first_adults", [
    (9, 1, 9, 0),  # 10 participants, 9 of them new children: the hidden adult would be 10 - 9
    (6, 2, 6, 2),
    (4, 1, 4, 1),
])
def test_first_timers_do_not_give_away_the_participants(children, adults, first_children, first_adults):
    # a site alone (the network equals it); first-timers are among the participants
    columns = ("attendance_children", "attendance_adults", "first_timers_children", "first_timers_adults",
               "attendance_total", "first_timers_total")

    def records(c, a, fc, fa):
        row = dict.fromkeys(PEOPLE_COLUMNS, 0) | dict(zip(columns, (c, a, fc, fa, c + a, fc + fa), strict=True))
        return [row], dict(row)

    def cells(sites, network):
        return tuple(r[c] for r in (*sites, network) for c in columns)

    public = cells(*suppress_month(*records(children, adults, first_children, first_adults), 3))
    hidden = [i for i, v in enumerate(public) if v is None]
    seen = {i: set() for i in hidden}
    for c, a, fc, fa in itertools.product(range(13), repeat=4):
        if fc > c or fa > a:
            continue
        candidate = cells(*records(c, a, fc, fa))
        if all(x == p if p is not None else x >= 1 for x, p in zip(candidate, public, strict=True)):
            for i in hidden:
                seen[i].add(candidate[i])
    assert [columns[i % len(columns)] for i in hidden if len(seen[i]) < 2] == []
