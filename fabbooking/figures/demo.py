"""Demo history for the figures: the last months' bookings and machine use (idempotent).

``book()`` refuses the past, so the history is written directly: makers' bookings on most
opening days (a few cancelled, a few not honoured), and the usage sessions the connected
machines reported — behind bookings, and walk-ins without one — with energy and
material. A fixed random seed makes every demo the same."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabbooking import database
from fabbooking.bookings.tables import Booking, BookingStatus
from fabbooking.network.tables import Machine
from fabbooking.usage.tables import Outcome, Telemetry, UsageSession

MARK = "Historique de démonstration"
MAKERS = ("maiwenn", "yannick", "karim", "lea")
SLOTS = (time(10, 0), time(14, 0), time(16, 30))
POWER_W = {"3d_printer": 110.0, "laser_cutter": 850.0, "cnc": 600.0, "vinyl_cutter": 40.0,
           "embroidery": 90.0, "other": 100.0}
MATERIAL = {"3d_printer": "PLA", "laser_cutter": "contreplaqué 3 mm", "cnc": "MDF 10 mm",
            "vinyl_cutter": "vinyle adhésif", "embroidery": "fil polyester"}


def _first_day(now_local: datetime, months_back: int):
    year, month = now_local.year, now_local.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return now_local.date().replace(year=year, month=month, day=1)


async def load(ids: dict[str, int]) -> str:
    """Add the demo history; ``ids`` maps demo usernames to account ids. Returns a short summary."""
    if await Booking.exists().where(Booking.note == MARK):
        return ""
    makers = [ids[name] for name in MAKERS if name in ids]
    machines = await Machine.select(Machine.id, Machine.kind, Machine.site.timezone.as_alias("tz")
                                    ).order_by(Machine.id)
    connected = {r["machine"] for r in await Telemetry.select(Telemetry.machine)}
    rng = random.Random(20261126)
    now = datetime.now(UTC)
    bookings = sessions = 0
    async with database.write_transaction():
        for machine in machines:
            tz = ZoneInfo(machine["tz"] or "Europe/Paris")
            day = _first_day(now.astimezone(tz), 2)
            last = now.astimezone(tz).date() - timedelta(days=1)
            power = POWER_W.get(machine["kind"], 100.0)
            while day <= last:
                busy_day = day.weekday() < 6 and rng.random() < 0.7
                for slot in SLOTS if busy_day else ():
                    if rng.random() < 0.45:
                        continue
                    start = datetime.combine(day, slot, tzinfo=tz).astimezone(UTC)
                    end = start + timedelta(minutes=rng.choice((60, 90, 120)))
                    roll = rng.random()
                    status = (BookingStatus.cancelled if roll < 0.1 else
                              BookingStatus.no_show if roll < 0.17 else BookingStatus.confirmed)
                    maker = rng.choice(makers)
                    rows = await Booking.insert(Booking(
                        machine=machine["id"], maker=maker, booked_by=maker, start_at=start,
                        end_at=end, status=status.value, note=MARK, created_at=start - timedelta(days=3),
                        cancelled_at=start - timedelta(days=1) if status == BookingStatus.cancelled else None,
                        cancelled_by=maker if status == BookingStatus.cancelled else None,
                    )).returning(Booking.id)
                    bookings += 1
                    if status == BookingStatus.confirmed and machine["id"] in connected:
                        began = start + timedelta(minutes=rng.randint(2, 10))
                        seconds = (end - began).total_seconds() * rng.uniform(0.5, 0.95)
                        sessions += await _session(machine, began, seconds, power, rng, rows[0]["id"])
                if machine["id"] in connected and day.weekday() < 6 and rng.random() < 0.25:
                    began = datetime.combine(day, time(12, 15), tzinfo=tz).astimezone(UTC)
                    sessions += await _session(machine, began, rng.randint(15, 100) * 60.0, power, rng, None)
                day += timedelta(days=1)
    return f"Demo history: {bookings} past bookings, {sessions} usage sessions."


async def _session(machine: dict, began: datetime, seconds: float, power: float,
                   rng: random.Random, booking_id: int | None) -> int:
    kind = machine["kind"]
    job = f"demo-{began:%Y%m%dT%H%M}"
    await UsageSession.insert(UsageSession(
        key=f"{machine['id']}:{job}", machine=machine["id"], job_key=job, started_at=began,
        ended_at=began + timedelta(seconds=seconds), duration_s=seconds,
        outcome=Outcome.completed.value if rng.random() > 0.08 else Outcome.failed.value,
        energy_wh=round(power * seconds / 3600, 1), material_kind=MATERIAL.get(kind, ""),
        material_grams=round(seconds / 3600 * 14, 1) if kind == "3d_printer" else None,
        file_name="", booking=booking_id, walk_in=booking_id is None,
    ))
    return 1
