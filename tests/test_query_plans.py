"""Every statement the booking paths issue against the booking table (and the session and
token lookups) is answered from an index, never by reading the whole table: the plan is
asked of the database itself (SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with
sequential scans discouraged, so a usable index is always chosen when there is one). The
plans at a million bookings are in docs/performance.md (bench/scale.py)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import booking_body
from tests.statements import counting_statements
from tests.test_statement_budgets import _next_week
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio

WATCHED = ("booking", "browser_session", "api_token")


async def _plans(db, statements, watched: tuple[str, ...] = WATCHED) -> list[tuple[str, str]]:
    """(statement, plan) of each statement that reads a watched table."""
    found = []
    if db.kind == "sqlite":
        connection = sqlite3.connect(db.url.removeprefix("sqlite:///"))
        try:
            for sql, args in zip(statements.sql, statements.args, strict=True):
                if _watched(sql, watched) and sql.lstrip().upper().startswith("SELECT"):
                    rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
                    found.append((sql, "\n".join(r[-1] for r in rows)))
        finally:
            connection.close()
        return found
    import asyncpg

    connection = await asyncpg.connect(db.url)
    try:
        await connection.execute("SET enable_seqscan = off")
        for sql, args in zip(statements.sql, statements.args, strict=True):
            if _watched(sql, watched) and sql.lstrip().upper().startswith("SELECT"):
                rows = await connection.fetch(f"EXPLAIN {sql}", *args)
                found.append((sql, "\n".join(r[0] for r in rows)))
    finally:
        await connection.close()
    return found


def _watched(sql: str, watched: tuple[str, ...] = WATCHED) -> bool:
    lowered = sql.lower()
    return any(f'from "{t}"' in lowered or f"from {t} " in lowered or f"join {t} " in lowered
               or f'join "{t}"' in lowered for t in watched)


# Indexes that read only the entries around the asked range (or one row).
RANGE_INDEXES = ("booking_pkey", "booking_machine_start", "booking_maker_start", "booking_start_at",
                 "booking_no_overlap", "INTEGER PRIMARY KEY")


def _full_scans(db, plans: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Plans that read a watched table whole, or bookings through an index that is not
    bounded by time (a machine's or a maker's whole history)."""
    bad = []
    for sql, plan in plans:
        for line in plan.splitlines():
            text = line.strip()
            if db.kind == "sqlite":
                whole = any(text.startswith(f"SCAN {t}") and "INDEX" not in text for t in WATCHED)
                unbounded = text.startswith("SEARCH booking ") and not any(i in text for i in RANGE_INDEXES)
            else:
                whole = any(f"Seq Scan on {t}" in text for t in WATCHED)
                on_booking = " on booking " in text or text.endswith(" on booking") or "Index Scan on booking" in text
                unbounded = on_booking and "Index" in text and not any(i in text for i in RANGE_INDEXES)
            if whole or unbounded:
                bad.append((sql, plan))
                break
    return bad


async def test_booking_paths_read_bookings_through_an_index(client, world, db):
    await browser_login(client, "maker")
    booked = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                               json=booking_body(world.ids["printer"], 2))
    assert booked.status_code == 201
    printer = world.ids["printer"]
    with counting_statements() as seen:
        for path in (f"/api/v1/machines/{printer}/availability?{_next_week()}", f"/machines/{printer}",
                     "/me/bookings", "/me/bookings?page=1", f"/machines/{printer}/book?start=x",
                     f"/api/v1/sites/atelier/availability?{_next_week()}"):
            assert (await client.get(path)).status_code == 200, path
        for path in ("/api/v1/bookings?mine=true", "/api/v1/bookings?mine=true&past_page=2"):
            assert (await client.get(path, headers=world.auth("maker"))).status_code == 200
        assert (await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                  json=booking_body(printer, 3))).status_code == 201
    plans = await _plans(db, seen)
    assert len(plans) >= 10, "the paths above read bookings, sessions and tokens"
    assert _full_scans(db, plans) == []
