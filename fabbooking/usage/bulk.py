"""The statements a batch of usage messages is recorded with: each reads or writes the rows
of the whole batch at once (its message keys, the live states of its machines, its
sessions, the bookings they fall in, its gateways, its dead letters), so a batch costs a few
statements whatever its size. Raw SQL, run inside the recording transaction.

A statement's text never depends on how many rows it carries, so each is prepared once and
cached once per connection (a text per batch size filled the drivers' statement caches with
programs of thousands of parameters, on every pooled connection): PostgreSQL gets the rows as
one array per column (``unnest``, ``= ANY``), SQLite (≥ 3.38: RETURNING, ``->>``) as one
JSON array (``json_each``), its values as Piccolo stores them.

On PostgreSQL two listeners may record at once: the rows a batch updates are read ``FOR
UPDATE`` (in key order), and a row it believed new but that another listener has just
inserted raises ``ConcurrentWrite``: the batch is then recorded again from the start. On
SQLite the write transaction is exclusive, so neither can happen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from piccolo.engine.sqlite import convert_datetime_in

from fabbooking import database
from fabbooking.prepared import WrittenStatement
from fabbooking.usage.sessions import COLUMNS as SESSION_COLUMNS

MAX_PARAMETERS = 30_000  # SQLite takes at most 32766 per statement
LIVE_COLUMNS = ("machine", "state", "last_seen_at", "power_w", "device_state", "detector")
DEAD_LETTER_COLUMNS = ("received_at", "topic", "reason", "payload", "size")
# PostgreSQL types of the columns given as arrays (json travels as text, cast once in the row)
TYPES = {
    "key": "text", "received_at": "timestamptz", "machine": "integer", "state": "text",
    "last_seen_at": "timestamptz", "power_w": "float8", "device_state": "json", "detector": "json",
    "job_key": "text", "started_at": "timestamptz", "ended_at": "timestamptz", "duration_s": "float8",
    "outcome": "text", "energy_wh": "float8", "material_kind": "text", "material_grams": "float8",
    "material_length_mm": "float8", "file_name": "text", "booking": "integer", "walk_in": "boolean",
    "overrun": "boolean", "replayed": "boolean", "topic": "text", "reason": "text", "payload": "bytea",
    "size": "integer", "id": "integer",
}


class ConcurrentWrite(Exception):
    """Another listener inserted a row this batch believed new: record the batch again."""




async def _run(sql: str, args: Sequence) -> list:
    return await database.DB.run_querystring(WrittenStatement(sql, args))


def _postgres() -> bool:
    return database.is_postgres()


def _chunks(rows: Sequence, width: int) -> Iterable[Sequence]:
    size = max(1, MAX_PARAMETERS // max(width, 1))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _sqlite_json(rows: Sequence[Sequence]) -> str:
    """Rows as one JSON array for ``json_each``, each value as Piccolo stores it in SQLite."""
    def stored(value: object) -> object:
        if isinstance(value, datetime):
            return convert_datetime_in(value)
        return int(value) if isinstance(value, bool) else value

    return json.dumps([[stored(v) for v in row] for row in rows])


def _rows(columns: Sequence[str], rows: Sequence[Sequence], ordered: bool = False) -> Iterable[tuple[str, list]]:
    """``rows`` as the source of an INSERT: (SQL, arguments). ``ordered``: the rows are
    inserted in the order given (serial ids follow it)."""
    if not rows:
        return
    if _postgres():
        names = ", ".join(columns)
        select = ", ".join(f"{c}::json" if TYPES[c] == "json" else c for c in columns)
        arrays = ", ".join(f"{{}}::{'text' if TYPES[c] == 'json' else TYPES[c]}[]" for c in columns)
        order = " WITH ORDINALITY AS v({names}, n) ORDER BY n" if ordered else " AS v({names})"
        yield (f"SELECT {select} FROM unnest({arrays}){order.format(names=names)}",
               [[row[n] for row in rows] for n in range(len(columns))])
        return
    if any(isinstance(v, bytes) for row in rows for v in row):  # JSON has no bytes: dead letters, rare
        for chunk in _chunks(rows, len(columns)):
            marks = ", ".join("(" + ", ".join(["{}"] * len(columns)) + ")" for _ in chunk)
            yield f"VALUES {marks}", [value for row in chunk for value in row]
        return
    values = ", ".join(f"value ->> {n}" for n in range(len(columns)))
    # WHERE true: SQLite would read the ON of a following ON CONFLICT as a join's
    yield f"SELECT {values} FROM json_each({{}}) WHERE true ORDER BY key", [_sqlite_json(rows)]


def _among(column: str, values: Sequence) -> Iterable[tuple[str, list]]:
    """``column`` among ``values``: (SQL condition, arguments)."""
    if not values:
        return
    if _postgres():
        yield f"{column} = ANY({{}}::{TYPES[column]}[])", [list(values)]
    else:
        yield f"{column} IN (SELECT value FROM json_each({{}}))", [json.dumps(list(values))]


def _for_update() -> str:
    return " FOR UPDATE" if _postgres() else ""


async def claim_keys(keys: Sequence[str], at: datetime) -> set[str]:
    """Insert the batch's message keys; those that were not there yet (first time seen)."""
    claimed: set[str] = set()
    for source, args in _rows(("key", "received_at"), [(key, at) for key in keys]):
        rows = await _run(f"INSERT INTO received_message (key, received_at) {source} "
                          "ON CONFLICT (key) DO NOTHING RETURNING key", args)
        claimed.update(row["key"] for row in rows)
    return claimed


async def forget_keys(keys: Sequence[str]) -> None:
    """Give back keys claimed for messages that were dead-lettered after all."""
    for condition, args in _among("key", keys):
        await _run(f"DELETE FROM received_message WHERE {condition}", args)


async def live_rows(machine_ids: Sequence[int]) -> dict[int, dict]:
    found: dict[int, dict] = {}
    for condition, args in _among("machine", sorted(machine_ids)):
        rows = await _run(f"SELECT {', '.join(LIVE_COLUMNS)} FROM machine_live WHERE {condition} "
                          f"ORDER BY machine{_for_update()}", args)
        found.update((row["machine"], dict(row)) for row in rows)
    return found


async def session_rows(keys: Sequence[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for condition, args in _among("key", sorted(keys)):
        rows = await _run(f"SELECT {', '.join(SESSION_COLUMNS)} FROM usage_session WHERE {condition} "
                          f"ORDER BY key{_for_update()}", args)
        found.update((row["key"], dict(row)) for row in rows)
    return found


async def running_sessions(machine_ids: Sequence[int]) -> dict[int, set[str]]:
    """Keys of the sessions still running, per machine."""
    running: dict[int, set[str]] = {}
    for condition, args in _among("machine", sorted(machine_ids)):
        for row in await _run(f"SELECT machine, key FROM usage_session WHERE outcome = 'running' AND {condition}",
                              args):
            running.setdefault(row["machine"], set()).add(row["key"])
    return running


async def bookings_between(machine_ids: Sequence[int], after: datetime, before: datetime) -> list[dict]:
    """Confirmed (or no-show) bookings of these machines that end after ``after`` and start
    before ``before``, by start."""
    bookings: list[dict] = []
    for condition, args in _among("machine", sorted(machine_ids)):
        rows = await _run(f"SELECT id, machine, start_at, end_at FROM booking WHERE {condition} "
                          "AND status IN ('confirmed', 'no_show') AND start_at <= {} AND end_at > {}",
                          [*args, before, after])
        bookings += [dict(row) for row in rows]
    bookings.sort(key=lambda b: (b["start_at"], b["id"]))
    return bookings


async def _insert_new(table: str, key: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    for source, args in _rows(columns, [[row[c] for c in columns] for row in rows]):
        inserted = await _run(f"INSERT INTO {table} ({', '.join(columns)}) {source} "
                              f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}", args)
        expected = len(args[0]) if _postgres() else len(args) // len(columns)
        if len(inserted) < expected:
            raise ConcurrentWrite(f"{table}: {expected - len(inserted)} rows inserted meanwhile")


async def _update_existing(table: str, key: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    for source, args in _rows(columns, [[row[c] for c in columns] for row in rows]):
        await _run(f"INSERT INTO {table} ({', '.join(columns)}) {source} "
                   f"ON CONFLICT ({key}) DO UPDATE SET {updates}", args)


async def save_live(new: Sequence[dict], changed: Sequence[dict]) -> None:
    """Write the live states: ``new`` rows (none yet for their machine), ``changed`` ones
    (read by ``live_rows`` in this transaction)."""
    await _insert_new("machine_live", "machine", LIVE_COLUMNS, new)
    await _update_existing("machine_live", "machine", LIVE_COLUMNS, changed)


async def save_sessions(new: Sequence[dict], changed: Sequence[dict]) -> None:
    await _insert_new("usage_session", "key", SESSION_COLUMNS, new)
    await _update_existing("usage_session", "key", SESSION_COLUMNS, changed)


async def touch_gateways(seen: dict[int, tuple[datetime, str | None]]) -> None:
    """Each gateway's last message (and its new state, when it sent a status), in one
    statement."""
    if not seen:
        return
    ids = sorted(seen)
    if _postgres():
        await _run("UPDATE gateway SET last_seen_at = v.last_seen_at, state = COALESCE(v.state, gateway.state) "
                   "FROM unnest({}::integer[], {}::timestamptz[], {}::text[]) AS v(id, last_seen_at, state) "
                   "WHERE gateway.id = v.id", [ids, [seen[i][0] for i in ids], [seen[i][1] for i in ids]])
        return
    await _run("UPDATE gateway SET last_seen_at = v.value ->> 1, state = COALESCE(v.value ->> 2, gateway.state) "
               "FROM json_each({}) AS v WHERE gateway.id = v.value ->> 0",
               [_sqlite_json([(i, seen[i][0], seen[i][1]) for i in ids])])


async def dead_letters(rows: Sequence[tuple[datetime, str, str, bytes, int]]) -> None:
    """Insert dead letters in the order given (their ids follow it)."""
    for source, args in _rows(DEAD_LETTER_COLUMNS, rows, ordered=True):
        await _run(f"INSERT INTO dead_letter ({', '.join(DEAD_LETTER_COLUMNS)}) {source}", args)
