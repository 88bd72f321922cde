"""Hot queries composed once, and hand-written statements compiled cheaply.

Piccolo composes a query's SQL anew each time it runs: 0.2–0.8 ms for a select with joins,
a quarter of a page's time when a page runs four of them. A ``Prepared`` query is a Piccolo
query written once, with ``Param`` markers where the values go; it keeps the SQL it compiled
for each kind of database and runs it again with new values — through the engine, so it
joins the current transaction like any other query.

    MACHINE = Prepared(lambda machine_id: Machine.select(...).where(Machine.id == machine_id))
    row = await MACHINE.first(machine_id=2)

Only for queries of a fixed shape: a value list (``is_in``) changes the SQL with its length.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from piccolo.query.base import Query
from piccolo.querystring import QueryString


class Param:
    """Where a value goes in a prepared query."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Param({self.name!r})"


class QuickRead(QueryString):
    """A statement of a prepared query: short, on an index (see sqlite_pool's quick reads)."""

    quick = True


class Prepared:
    def __init__(self, build: Callable[..., Query]) -> None:
        self._build = build
        self._names = tuple(inspect.signature(build).parameters)
        self._compiled: dict[str, tuple[str, tuple[Any, ...]]] = {}
        self._table = build(*(Param(n) for n in self._names)).table

    def _sql(self, engine_type: str) -> tuple[str, tuple[Any, ...]]:
        compiled = self._compiled.get(engine_type)
        if compiled is None:
            query = self._build(*(Param(n) for n in self._names))
            (querystring,) = query.querystrings
            sql, args = querystring.compile_string(engine_type=engine_type)
            compiled = self._compiled[engine_type] = (sql, tuple(args))
        return compiled

    async def rows(self, **values: Any) -> list[dict[str, Any]]:
        engine = self._table._meta.db
        sql, slots = self._sql(engine.engine_type)
        querystring = QuickRead("")
        querystring._frozen_compiled_strings = (
            sql, [values[slot.name] if isinstance(slot, Param) else slot for slot in slots])
        results = await engine.run_querystring(querystring)
        return engine.transform_response_to_dicts(results) if results else []

    async def first(self, **values: Any) -> dict[str, Any] | None:
        rows = await self.rows(**values)
        return rows[0] if rows else None


class WrittenStatement(QueryString):
    """SQL written by hand with ``{}`` for each argument, compiled for the engine by a plain
    split: Piccolo's own template parser goes over the template again for every argument,
    which costs more than the database on a statement with hundreds of them."""

    def __init__(self, sql: str, args: Sequence) -> None:
        super().__init__(sql)
        self._pieces, self._values = sql.split("{}"), list(args)
        assert len(self._pieces) == len(self._values) + 1, "one {} per argument"

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list]:
        if engine_type == "sqlite":
            return "?".join(self._pieces), self._values
        marks = [f"${n}" for n in range(1, len(self._pieces))] + [""]
        return "".join(piece + mark for piece, mark in zip(self._pieces, marks, strict=True)), self._values


class QuickStatement(WrittenStatement):
    """A hand-written statement that is one short read on an index: outside a transaction it
    runs on the event loop's quick-read connection, like a prepared query (see sqlite_pool)."""

    quick = True


async def quick_rows(table: type, sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a hand-written short read (``{}`` for each argument), as dicts, through
    ``table``'s engine (inside the current transaction, if there is one)."""
    return await _written_rows(table, QuickStatement(sql, args))


async def written_rows(table: type, sql: str, *args: Any, query_type: str = "generic") -> list[dict[str, Any]]:
    """The rows a hand-written statement returns (``{}`` for each argument; values adapted
    by the engine as Piccolo's own are), as dicts. ``query_type`` "insert", "update" or
    "delete" for a write outside a transaction (it then takes the write lock)."""
    statement = WrittenStatement(sql, args)
    statement.query_type = query_type
    return await _written_rows(table, statement)


async def _written_rows(table: type, statement: QueryString) -> list[dict[str, Any]]:
    engine = table._meta.db  # type: ignore[attr-defined]
    results = await engine.run_querystring(statement)
    return engine.transform_response_to_dicts(results) if results else []
