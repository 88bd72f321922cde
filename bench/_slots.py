"""The free slots the booking benches book: every free stretch of a machine's availability
cut into its shortest booking, on its slot grid, machines interleaved so that 16 clients
seldom book the same machine at once. Used by bench/http.py and, inside the measured
checkout's process, by bench/booking_cpu.py (stdlib only: it runs beside any checkout)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

Slot = tuple[int, str, datetime, datetime]  # machine, site, start, end


def horizon(machine: dict, now: datetime) -> tuple[datetime, datetime]:
    """From an hour from now to a day before the machine's booking horizon."""
    return now + timedelta(hours=1), now + timedelta(days=machine["rules"]["max_days_ahead"] - 1)


def machine_slots(machine: dict, availability: dict, start: datetime) -> list[Slot]:
    """``machine`` as GET /api/v1/machines lists it, ``availability`` as its availability
    answers from ``start``."""
    rules = machine["rules"]
    step = rules["slot_minutes"]
    length = timedelta(minutes=step * math.ceil(rules["min_minutes"] / step))
    zone, found = ZoneInfo(availability["timezone"]), []
    for interval in availability["free"]:
        begin = datetime.fromisoformat(interval["start"]).astimezone(zone)
        finish = datetime.fromisoformat(interval["end"]).astimezone(zone)
        late = (begin.hour * 60 + begin.minute) % step
        if late or begin.second or begin.microsecond:
            begin = begin.replace(second=0, microsecond=0) + timedelta(minutes=step - late)
        while begin + length <= finish:
            if begin >= start:
                found.append((machine["id"], machine["site"], begin, begin + length))
            begin += length
    return found


def interleaved(per_machine: list[list[Slot]]) -> list[Slot]:
    return [slots[i] for i in range(max(map(len, per_machine), default=0)) for slots in per_machine if i < len(slots)]
