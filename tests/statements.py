"""Counting the SQL statements a request or a batch issues (Django's assertNumQueries):
an N+1 fails in CI instead of slowing production down."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from fabbooking import database


@dataclass
class Statements:
    sql: list[str] = field(default_factory=list)
    args: list[list] = field(default_factory=list)  # each statement's values

    def __len__(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        return "\n".join(f"{n:3}. {s[:300]}" for n, s in enumerate(self.sql, 1))


@contextlib.contextmanager
def counting_statements() -> Iterator[Statements]:
    """Every statement the database engine in use runs inside the block, as compiled SQL.
    (PostgresEngine has __slots__: the engine's class is wrapped, for this engine only.)"""
    engine = database.DB
    seen = Statements()
    cls = type(engine)
    run_querystring, run_ddl = cls.run_querystring, cls.run_ddl

    async def counted_query(self, querystring, in_pool: bool = False):
        if self is engine:
            sql, args = querystring.compile_string(engine_type=engine.engine_type)
            seen.sql.append(sql)
            seen.args.append(list(args))
        return await run_querystring(self, querystring, in_pool=in_pool)

    async def counted_ddl(self, ddl: str, in_pool: bool = False):
        if self is engine:
            seen.sql.append(ddl)
            seen.args.append([])
        return await run_ddl(self, ddl, in_pool=in_pool)

    cls.run_querystring, cls.run_ddl = counted_query, counted_ddl
    try:
        yield seen
    finally:
        cls.run_querystring, cls.run_ddl = run_querystring, run_ddl
