"""Demo projects for the Brest demo network (idempotent)."""

from __future__ import annotations


async def load(ids: dict[str, int]) -> str:
    """Add the demo projects; ids maps demo usernames to account ids. Returns a short summary."""
    return ""
