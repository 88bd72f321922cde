"""Freeing the slots nobody turned up for. A booked machine that reports its use and shows
none within the site's grace period makes the booking a no-show: the rest of the slot is
free again. Runs inside the app (see runtime.py), not in a cron job someone must remember."""

from __future__ import annotations

from datetime import datetime, timedelta

from fabbooking.bookings.tables import Booking, BookingPurpose
from fabbooking.usage.sessions import EARLY_START
from fabbooking.usage.tables import MachineLive, Telemetry, UsageSession


async def release_no_shows(now: datetime) -> list[int]:
    """Mark no-shows; return their booking ids. Safe to run from several processes at once.
    A machine held for a workshop is never released: the workshop may not use it at once."""
    watched = [r["machine"] for r in await Telemetry.select(Telemetry.machine)]
    if not watched:
        return []
    candidates = await Booking.select(
        Booking.id, Booking.machine, Booking.start_at, Booking.end_at,
        Booking.machine.site.no_show_grace_minutes.as_alias("grace"),
    ).where(
        (Booking.status == "confirmed") & (Booking.purpose == BookingPurpose.maker.value)
        & Booking.machine.is_in(watched)
        & (Booking.start_at <= now) & (Booking.end_at > now)
    )
    released = []
    for booking in candidates:
        if booking["start_at"] + timedelta(minutes=booking["grace"]) > now:
            continue
        if await _machine_was_used(booking["machine"], booking["start_at"], now):
            continue
        changed = await Booking.update({Booking.status: "no_show"}).where(
            (Booking.id == booking["id"]) & (Booking.status == "confirmed")
        ).returning(Booking.id)
        if changed:
            from fabbooking.waiting.services import on_slot_freed

            released.append(booking["id"])
            # the rest of the slot, to those waiting for it, in the same transaction
            await on_slot_freed(booking["machine"], booking["start_at"], booking["end_at"], now)
    if released:
        from fabbooking.notifications import events

        # in the job's transaction: the messages exist only if the release is committed
        await events.bookings_ended("booking_no_show", released)
    return released


async def _machine_was_used(machine_id: int, since: datetime, now: datetime) -> bool:
    started = await UsageSession.exists().where(
        (UsageSession.machine == machine_id)
        & (UsageSession.started_at >= since - EARLY_START) & (UsageSession.started_at <= now)
    )
    running = await UsageSession.exists().where(
        (UsageSession.machine == machine_id) & (UsageSession.outcome == "running")
        & (UsageSession.started_at <= now)
    )
    busy = await MachineLive.exists().where((MachineLive.machine == machine_id) & (MachineLive.state == "busy"))
    return started or running or busy
