"""Demo history for the figures: last months' bookings and machine use (idempotent)."""

from __future__ import annotations


async def load(ids: dict[str, int]) -> str:
    """Add the demo history; ``ids`` maps demo usernames to account ids. Returns a short summary."""
    return ""
