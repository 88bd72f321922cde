"""References kept per process, used again only while their tables' change counters stand.

The database counts the writes to each watched table (migration
references_2026_12_06t03_00_00_000000: a row of ``reference_change`` per table, bumped by
triggers in the writing transaction). A kept value remembers the counters of the tables it
was read from; before it is used again, one short statement reads the counters, and any
write committed since — by this process or another — means it is read afresh. So a machine
set to maintenance, a training granted or a token revoked counts on the very next request,
as it did when everything was read every time.

The counters are read *before* the value: a write that commits in between leaves the value
newer than its counters, which only costs one more read the next time. Inside a transaction
a kept value is used when the counters the transaction sees are its own, but nothing read
there is kept: the transaction may have written (its counters moved with its writes, so
nothing kept matches them) and may yet be rolled back.

Keyed by the engine as well: tests and commands switch databases within one process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from piccolo.engine.base import Engine

from fabbooking import database
from fabbooking.prepared import QuickStatement

Value = TypeVar("Value")

_COUNTERS = QuickStatement("SELECT name, changes FROM reference_change", [])


async def counters(engine: Engine | None = None) -> dict[str, int]:
    """Every watched table's change counter, in one statement (on ``engine``, by default the
    app's); none (so nothing is kept) in a database not migrated yet since a backup of
    before the counters was restored."""
    engine = engine or database.DB
    try:
        rows = await engine.run_querystring(_COUNTERS)
    except Exception as exc:
        if "reference_change" in str(exc) and type(exc).__name__ in ("OperationalError", "UndefinedTableError"):
            return {}
        raise
    return {row["name"]: row["changes"] for row in engine.transform_response_to_dicts(rows)}


class Kept(Generic[Value]):
    """Values read from ``tables``, kept by key while those tables do not change (at most
    ``limit`` of them: past it, all are forgotten at once)."""

    def __init__(self, tables: tuple[str, ...], limit: int = 10_000) -> None:
        self.tables = tables
        self.limit = limit
        self._engine: object = None
        self._values: dict[Hashable, tuple[tuple[int, ...], Value]] = {}
        _EVERY.append(self)

    async def get(self, key: Hashable, read: Callable[[], Awaitable[Value | None]],
                  found: dict[str, int] | None = None) -> Value | None:
        """The value under ``key``: kept, or ``read()`` (kept when it is not None).
        ``found``: the counters, read by the caller before with nothing written since (a
        booking's request finds its token, its machine and its maker's trainings under one
        reading)."""
        engine = database.DB
        if found is None:
            found = await counters()
        stamp = tuple(found.get(table, -1) for table in self.tables)
        counted = -1 not in stamp  # every table has its counter
        if engine is not self._engine:
            self._engine, self._values = engine, {}
        kept = self._values.get(key)
        if counted and kept is not None and kept[0] == stamp:
            return kept[1]
        value = await read()
        in_transaction = engine.current_transaction.get() is not None  # type: ignore[attr-defined]
        if counted and value is not None and not in_transaction:
            if len(self._values) >= self.limit:
                self._values.clear()
            self._values[key] = (stamp, value)
        return value

    def forget(self) -> None:
        self._engine, self._values = None, {}


_EVERY: list[Kept] = []


def forget_all() -> None:
    """Nothing kept (tests that count what a request costs when everything is read)."""
    for kept in _EVERY:
        kept.forget()
