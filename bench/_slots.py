"""What the booking benches book: more 3D printers per site, then every free stretch of a
machine's availability cut into its shortest booking, on its slot grid, machines interleaved
so that 16 clients seldom book the same machine at once, each slot for a maker who holds at
most as many as the quota allows at its site. Used by bench/http.py and, inside the measured
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


def extra_printers(site_slugs: list[str], training_id: int, per_site: int) -> list[dict]:
    """The bodies of POST /api/v1/machines that add ``per_site`` 3D printers to each site."""
    return [{"site": slug, "slug": f"bench-printer-{number}", "name": f"Imprimante {number}",
             "kind": "3d_printer", "required_training_id": training_id}
            for slug in site_slugs for number in range(1, per_site + 1)]


def makers_of(slots: list[Slot], quota: int) -> list[int]:
    """Which maker (0, 1, …) books each slot: at most ``quota`` of them per maker and site."""
    per_site: dict[str, int] = {}
    makers = []
    for _, site, _, _ in slots:
        makers.append(per_site.get(site, 0) // quota)
        per_site[site] = per_site.get(site, 0) + 1
    return makers
