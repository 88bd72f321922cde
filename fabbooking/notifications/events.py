"""The messages each event writes, called by the services inside the transaction of the
change (bookings, no-shows, machine status, workshops), and the day-before reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus
from fabbooking.notifications.outbox import Notice, enqueue, recipients
from fabbooking.notifications.tables import Outbox

FRESH = timedelta(hours=3)  # a booking made less than this before the reminder gets none

_BOOKING_FACTS = (
    Booking.id, Booking.maker, Booking.start_at, Booking.end_at, Booking.status, Booking.purpose,
    Booking.machine.name.as_alias("machine"), Booking.machine.status.as_alias("machine_status"),
    Booking.machine.site.name.as_alias("site"), Booking.machine.site.address.as_alias("site_address"),
    Booking.machine.site.timezone.as_alias("timezone"),
    Booking.machine.site.reminder_hour.as_alias("reminder_hour"),
)


def _context(row: dict[str, Any]) -> dict[str, Any]:
    return {"machine": row["machine"], "site": row["site"], "start_at": row["start_at"],
            "end_at": row["end_at"], "timezone": row["timezone"], "booking_id": row["id"],
            "status": row["machine_status"]}


def booking_ics(row: dict[str, Any], now: datetime) -> str:
    """The booking as an iCalendar file, with the same UID as in the person's feed."""
    from fabbooking.figures.calendar_feeds import _calendar, _event, _location, public_url

    calendar = _calendar("Fabbooking", "Réservation de machine")
    calendar.add_component(_event(
        f"booking-{row['id']}", row["start_at"], row["end_at"], f"{row['machine']} — {row['site']}", now,
        location=_location({"name": row["site"], "address": row["site_address"]}),
        url=f"{public_url()}/me/bookings"))
    return calendar.to_ical().decode()


async def _bookings(booking_ids: Sequence[int]) -> list[dict[str, Any]]:
    if not booking_ids:
        return []
    return await Booking.select(*_BOOKING_FACTS).where(
        Booking.id.is_in(list(booking_ids)) & (Booking.purpose == BookingPurpose.maker.value))


async def booking_confirmed(booking_id: int, maker_id: int, now: datetime) -> None:
    """The confirmation, to a proved address. A booking calls it only when its insert found
    one for the maker (most have none: then it costs no statement)."""
    people = await recipients([maker_id], "booking_confirmed")
    if not people:
        return
    for row in await _bookings([booking_id]):
        await enqueue(Notice(row["maker"], "booking_confirmed", _context(row), ics=booking_ics(row, now),
                             key=f"booking_confirmed:{row['id']}"), people=people)


async def bookings_ended(kind: str, booking_ids: Sequence[int]) -> None:
    """``booking_cancelled`` (by the team) or ``booking_no_show``."""
    rows = await _bookings(booking_ids)
    await enqueue(*[Notice(r["maker"], kind, _context(r), key=f"{kind}:{r['id']}") for r in rows])


async def machine_unavailable(machine_id: int, status: str, now: datetime) -> None:
    """Everyone holding a coming booking of a machine just put out of order or in maintenance."""
    rows = await Booking.select(*_BOOKING_FACTS).where(
        (Booking.machine == machine_id) & (Booking.status == BookingStatus.confirmed.value)
        & (Booking.purpose == BookingPurpose.maker.value) & (Booking.end_at > now))
    await enqueue(*[Notice(r["maker"], "machine_unavailable", {**_context(r), "status": status}) for r in rows])


async def enqueue_reminders(now: datetime) -> int:
    """Write, once per booking, the reminder of the bookings that start tomorrow (the site's
    day), from the site's ``reminder_hour`` on the day before."""
    rows = await Booking.select(*_BOOKING_FACTS, Booking.created_at).where(
        (Booking.status == BookingStatus.confirmed.value) & (Booking.purpose == BookingPurpose.maker.value)
        & (Booking.start_at > now) & (Booking.start_at < now + timedelta(hours=48)))
    due = []
    for row in rows:
        zone = ZoneInfo(row["timezone"])
        local_now = now.astimezone(zone)
        if (row["start_at"].astimezone(zone).date() == local_now.date() + timedelta(days=1)
                and local_now.time() >= time(row["reminder_hour"]) and row["created_at"] < now - FRESH):
            due.append(row)
    if not due:
        return 0
    keys = {f"booking_reminder:{r['id']}": r for r in due}
    done = {r["dedupe_key"] for r in await Outbox.select(Outbox.dedupe_key).where(
        Outbox.dedupe_key.is_in(list(keys)))}
    return await enqueue(*[Notice(r["maker"], "booking_reminder", _context(r), key=key)
                           for key, r in keys.items() if key not in done])


# --- workshops ------------------------------------------------------------------------------

async def workshop_news(kind: str, workshop: dict[str, Any], account_ids: Sequence[int]) -> None:
    """``workshop_registered``, ``_waitlisted``, ``_promoted`` or ``_cancelled`` to these people."""
    if not account_ids:
        return
    context = {"workshop": workshop["title"], "workshop_id": workshop["id"], "site": workshop["site_name"],
               "timezone": workshop["site_timezone"], "start_at": workshop["starts_at"],
               "end_at": workshop["ends_at"]}
    await enqueue(*[Notice(a, kind, context) for a in account_ids if a is not None])
