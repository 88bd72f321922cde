"""Can I use this machine now? Its booking state at this moment, in the words a maker needs:
free now, booked until 15:00, closed (opens at 14:00), in maintenance. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fabbooking.bookings.calendar import Interval


@dataclass(frozen=True)
class MachineNow:
    state: str  # "free" | "booked" | "closed" | "maintenance" | "out_of_order"
    until: datetime | None = None  # booked: when the bookings end; closed: when it opens again that day


def machine_now(status: str, windows: list[Interval], busy: list[Interval], now: datetime) -> MachineNow:
    """``windows``: the site's opening windows from now to the end of the local day;
    ``busy``: the machine's bookings from now on, in order."""
    if status in ("maintenance", "out_of_order"):
        return MachineNow(status)
    if not any(w.start <= now < w.end for w in windows):
        later = [w.start for w in windows if w.start > now]
        return MachineNow("closed", min(later) if later else None)
    until = None
    for booking in sorted(busy, key=lambda b: b.start):
        if booking.start <= (until or now) < booking.end:
            until = booking.end  # back-to-back bookings: busy until the last one ends
    return MachineNow("booked", until) if until else MachineNow("free")
