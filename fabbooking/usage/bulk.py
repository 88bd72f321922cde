"""The statements a batch of usage messages is recorded with: each reads or writes the rows
of the whole batch at once (its message keys, the live states of its machines, its
sessions, the bookings they fall in, its gateways, its dead letters), so a batch costs a few
statements whatever its size. Raw SQL, the same on SQLite (≥ 3.35: RETURNING) and
PostgreSQL; run inside the recording transaction.

On PostgreSQL two listeners may record at once: the rows a batch updates are read ``FOR
UPDATE`` (in key order), and a row it believed new but that another listener has just
inserted raises ``ConcurrentWrite``: the batch is then recorded again from the start. On
SQLite the write transaction is exclusive, so neither can happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from piccolo.querystring import QueryString

from fabbooking import database
from fabbooking.usage.sessions import COLUMNS as SESSION_COLUMNS

MAX_PARAMETERS = 30_000  # PostgreSQL takes at most 32767 per statement, SQLite 32766
LIVE_COLUMNS = ("machine", "state", "last_seen_at", "power_w", "device_state", "detector")
DEAD_LETTER_COLUMNS = ("received_at", "topic", "reason", "payload", "size")


class ConcurrentWrite(Exception):
    """Another listener inserted a row this batch believed new: record the batch again."""


class _Written(QueryString):
    """A statement written here with ``{}`` for each argument, compiled for the engine by a
    plain split: Piccolo's own compiling parses the template again for every argument, which
    cost more than the database for a batch's multi-row statements."""

    def __init__(self, sql: str, args: Sequence) -> None:
        super().__init__(sql)
        self._pieces, self._values = sql.split("{}"), list(args)
        assert len(self._pieces) == len(self._values) + 1, "one {} per argument"

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list]:
        if engine_type == "sqlite":
            return "?".join(self._pieces), self._values
        marks = [f"${n}" for n in range(1, len(self._pieces))] + [""]
        return "".join(piece + mark for piece, mark in zip(self._pieces, marks)), self._values


async def _run(sql: str, args: Sequence) -> list:
    return await database.DB.run_querystring(_Written(sql, args))


def _chunks(rows: Sequence, width: int) -> Iterable[Sequence]:
    size = max(1, MAX_PARAMETERS // max(width, 1))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _values(rows: Sequence[Sequence]) -> tuple[str, list]:
    marks = ", ".join("(" + ", ".join(["{}"] * len(row)) + ")" for row in rows)
    return marks, [value for row in rows for value in row]


def _in(values: Sequence) -> str:
    return ", ".join(["{}"] * len(values))


def _for_update() -> str:
    return "" if not database.is_postgres() else " FOR UPDATE"


async def claim_keys(keys: Sequence[str], at: datetime) -> set[str]:
    """Insert the batch's message keys; those that were not there yet (first time seen)."""
    claimed: set[str] = set()
    for chunk in _chunks(keys, 2):
        marks, args = _values([(key, at) for key in chunk])
        rows = await _run(f"INSERT INTO received_message (key, received_at) VALUES {marks} "
                          "ON CONFLICT (key) DO NOTHING RETURNING key", args)
        claimed.update(row["key"] for row in rows)
    return claimed


async def forget_keys(keys: Sequence[str]) -> None:
    """Give back keys claimed for messages that were dead-lettered after all."""
    for chunk in _chunks(keys, 1):
        await _run(f"DELETE FROM received_message WHERE key IN ({_in(chunk)})", chunk)


async def live_rows(machine_ids: Sequence[int]) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for chunk in _chunks(sorted(machine_ids), 1):
        rows = await _run(f"SELECT {', '.join(LIVE_COLUMNS)} FROM machine_live WHERE machine IN ({_in(chunk)}) "
                          f"ORDER BY machine{_for_update()}", chunk)
        found.update((row["machine"], dict(row)) for row in rows)
    return found


async def session_rows(keys: Sequence[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for chunk in _chunks(sorted(keys), 1):
        rows = await _run(f"SELECT {', '.join(SESSION_COLUMNS)} FROM usage_session WHERE key IN ({_in(chunk)}) "
                          f"ORDER BY key{_for_update()}", chunk)
        found.update((row["key"], dict(row)) for row in rows)
    return found


async def running_sessions(machine_ids: Sequence[int]) -> dict[int, set[str]]:
    """Keys of the sessions still running, per machine."""
    running: dict[int, set[str]] = {}
    for chunk in _chunks(sorted(machine_ids), 1):
        rows = await _run(f"SELECT machine, key FROM usage_session WHERE outcome = 'running' "
                          f"AND machine IN ({_in(chunk)})", chunk)
        for row in rows:
            running.setdefault(row["machine"], set()).add(row["key"])
    return running


async def bookings_between(machine_ids: Sequence[int], after: datetime, before: datetime) -> list[dict]:
    """Confirmed (or no-show) bookings of these machines that end after ``after`` and start
    before ``before``, by start."""
    bookings: list[dict] = []
    for chunk in _chunks(sorted(machine_ids), 1):
        rows = await _run(f"SELECT id, machine, start_at, end_at FROM booking WHERE machine IN ({_in(chunk)}) "
                          "AND status IN ('confirmed', 'no_show') AND start_at <= {} AND end_at > {}",
                          [*chunk, before, after])
        bookings += [dict(row) for row in rows]
    bookings.sort(key=lambda b: (b["start_at"], b["id"]))
    return bookings


async def _insert_new(table: str, key: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    for chunk in _chunks(rows, len(columns)):
        marks, args = _values([[row[c] for c in columns] for row in chunk])
        inserted = await _run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks} "
                              f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}", args)
        if len(inserted) < len(chunk):
            raise ConcurrentWrite(f"{table}: {len(chunk) - len(inserted)} rows inserted meanwhile")


async def _update_existing(table: str, key: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    for chunk in _chunks(rows, len(columns)):
        marks, args = _values([[row[c] for c in columns] for row in chunk])
        await _run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks} "
                   f"ON CONFLICT ({key}) DO UPDATE SET {updates}", args)


async def save_live(new: Sequence[dict], changed: Sequence[dict]) -> None:
    """Write the live states: ``new`` rows (none yet for their machine), ``changed`` ones
    (read by ``live_rows`` in this transaction)."""
    if new:
        await _insert_new("machine_live", "machine", LIVE_COLUMNS, new)
    if changed:
        await _update_existing("machine_live", "machine", LIVE_COLUMNS, changed)


async def save_sessions(new: Sequence[dict], changed: Sequence[dict]) -> None:
    if new:
        await _insert_new("usage_session", "key", SESSION_COLUMNS, new)
    if changed:
        await _update_existing("usage_session", "key", SESSION_COLUMNS, changed)


async def touch_gateways(seen: dict[int, tuple[datetime, str | None]]) -> None:
    """Each gateway's last message (and its new state, when it sent a status), in one
    statement."""
    if not seen:
        return
    cast = "::timestamptz" if database.is_postgres() else ""
    text = "::varchar" if database.is_postgres() else ""
    ids = sorted(seen)
    last_seen = " ".join(f"WHEN {{}} THEN {{}}{cast}" for _ in ids)
    states = [i for i in ids if seen[i][1] is not None]
    args: list = [v for i in ids for v in (i, seen[i][0])]
    sql = f"UPDATE gateway SET last_seen_at = CASE id {last_seen} END"
    if states:
        sql += f", state = CASE id {' '.join(f'WHEN {{}} THEN {{}}{text}' for _ in states)} ELSE state END"
        args += [v for i in states for v in (i, seen[i][1])]
    await _run(f"{sql} WHERE id IN ({_in(ids)})", [*args, *ids])


async def dead_letters(rows: Sequence[tuple[datetime, str, str, bytes, int]]) -> None:
    """Insert dead letters in the order given (their ids follow it)."""
    for chunk in _chunks(rows, len(DEAD_LETTER_COLUMNS)):
        marks, args = _values(chunk)
        await _run(f"INSERT INTO dead_letter ({', '.join(DEAD_LETTER_COLUMNS)}) VALUES {marks}", args)
