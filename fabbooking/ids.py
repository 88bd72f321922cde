"""Row ids as the outside world sends them (pure)."""

from __future__ import annotations

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


def is_id(value: object) -> bool:
    """A number that can name a row. A bigger one names nothing and must not reach a query:
    PostgreSQL's driver fails on it instead of finding nothing."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
