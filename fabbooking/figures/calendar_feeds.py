"""iCalendar feeds: a machine's and a site's bookings (never who booked) with their public
workshops, and a maker's own bookings at a secret address.

Decisions (see docs/calendar-feeds.md): times are written in UTC (…Z); cancelled bookings
and cancelled workshops are left out (a subscribed calendar drops them on its next
refresh); a booking that holds a machine for a public workshop appears once, as the
workshop; the window runs from 30 days back to 90 days ahead; a booking's UID is
``booking-<id>@<host>``, a workshop's ``workshop-<id>@<host>``, stable across refreshes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from fabbooking import database, settings
from fabbooking.bookings.tables import (
    Booking,
    BookingPurpose,
    BookingStatus,
    CalendarFeed,
)
from fabbooking.errors import Refused
from fabbooking.network.services import get_machine, get_site
from fabbooking.workshops.tables import Workshop, WorkshopMachine, WorkshopStatus

DAYS_BACK = 30
DAYS_AHEAD = 90
TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
PRODID = "-//Fabbooking//Agendas du réseau//FR"


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=DAYS_BACK), now + timedelta(days=DAYS_AHEAD)


def public_url() -> str:
    return settings.public_url()


def host() -> str:
    return urlsplit(public_url()).hostname or "fabbooking.local"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _calendar(name: str, description: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-caldesc", description)
    calendar.add("x-published-ttl", "PT1H")
    return calendar


def _event(uid: str, start: datetime, end: datetime, summary: str, now: datetime,
           location: str = "", description: str = "", url: str = "") -> Event:
    event = Event()
    event.add("uid", f"{uid}@{host()}")
    event.add("dtstamp", _utc(now))
    event.add("dtstart", _utc(start))
    event.add("dtend", _utc(end))
    event.add("summary", summary)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    return event


def _active_booking(lower: datetime, upper: datetime):
    return ((Booking.status != BookingStatus.cancelled.value)
            & (Booking.start_at < upper) & (Booking.end_at > lower))


def _public_workshop(lower: datetime, upper: datetime, workshop=Workshop):
    return ((workshop.public == True)  # noqa: E712
            & (workshop.status != WorkshopStatus.cancelled.value)
            & (workshop.starts_at < upper) & (workshop.ends_at > lower))


def _location(site: dict[str, Any]) -> str:
    return ", ".join(part for part in (site["name"], site.get("address") or "") if part)


def _workshop_event(w: dict[str, Any], site: dict[str, Any], now: datetime) -> Event:
    return _event(f"workshop-{w['id']}", w["starts_at"], w["ends_at"], f"Atelier : {w['title']}",
                  now, location=_location(site), url=f"{public_url()}/workshops/{w['id']}")


async def _workshop_booking_ids(booking_ids: Iterable[int]) -> set[int]:
    """Which of these bookings hold a machine for a public workshop (shown as the workshop)."""
    ids = list(booking_ids)
    if not ids:
        return set()
    rows = await WorkshopMachine.select(WorkshopMachine.booking).where(
        WorkshopMachine.booking.is_in(ids) & (WorkshopMachine.workshop.public == True)  # noqa: E712
        & (WorkshopMachine.workshop.status != WorkshopStatus.cancelled.value)
    )
    return {r["booking"] for r in rows}


def to_bytes(calendar: Calendar) -> bytes:
    return calendar.to_ical()


async def machine_feed(machine_id: int, now: datetime) -> tuple[str, bytes]:
    """The machine's bookings (« Réservé ») and the public workshops that use it."""
    machine = await get_machine(machine_id)
    site = await get_site(machine["site_slug"])
    lower, upper = feed_window(now)
    bookings = await Booking.select(Booking.id, Booking.start_at, Booking.end_at, Booking.purpose).where(
        (Booking.machine == machine_id) & _active_booking(lower, upper)
    ).order_by(Booking.start_at)
    shown_as_workshop = await _workshop_booking_ids(
        b["id"] for b in bookings if b["purpose"] == BookingPurpose.workshop.value)
    workshops = await WorkshopMachine.select(
        WorkshopMachine.workshop.id.as_alias("id"), WorkshopMachine.workshop.title.as_alias("title"),
        WorkshopMachine.workshop.starts_at.as_alias("starts_at"),
        WorkshopMachine.workshop.ends_at.as_alias("ends_at"),
    ).where((WorkshopMachine.machine == machine_id)
            & _public_workshop(lower, upper, WorkshopMachine.workshop))
    name = f"{machine['name']} — {site['name']}"
    calendar = _calendar(name, f"Réservations de la machine « {machine['name']} » "
                               "(sans le nom des personnes) et ateliers publics.")
    for b in bookings:
        if b["id"] in shown_as_workshop:
            continue
        calendar.add_component(_event(f"booking-{b['id']}", b["start_at"], b["end_at"], "Réservé",
                                      now, location=_location(site),
                                      url=f"{public_url()}/machines/{machine_id}"))
    for w in {w["id"]: w for w in workshops}.values():
        calendar.add_component(_workshop_event(w, site, now))
    return name, to_bytes(calendar)


async def site_feed(site_slug: str, now: datetime) -> tuple[str, bytes]:
    """Every booking of the site's machines (« Réservé — machine ») and its public workshops."""
    site = await get_site(site_slug)
    lower, upper = feed_window(now)
    bookings = await Booking.select(
        Booking.id, Booking.start_at, Booking.end_at, Booking.purpose, Booking.machine,
        Booking.machine.name.as_alias("machine_name"),
    ).where((Booking.machine.site == site["id"]) & _active_booking(lower, upper)).order_by(Booking.start_at)
    shown_as_workshop = await _workshop_booking_ids(
        b["id"] for b in bookings if b["purpose"] == BookingPurpose.workshop.value)
    workshops = await Workshop.select(Workshop.id, Workshop.title, Workshop.starts_at, Workshop.ends_at).where(
        (Workshop.site == site["id"]) & _public_workshop(lower, upper)
    ).order_by(Workshop.starts_at)
    calendar = _calendar(site["name"], f"Réservations des machines de « {site['name']} » "
                                       "(sans le nom des personnes) et ateliers publics.")
    for b in bookings:
        if b["id"] in shown_as_workshop:
            continue
        calendar.add_component(_event(f"booking-{b['id']}", b["start_at"], b["end_at"],
                                      f"Réservé — {b['machine_name']}", now, location=_location(site),
                                      url=f"{public_url()}/machines/{b['machine']}"))
    for w in workshops:
        calendar.add_component(_workshop_event(w, site, now))
    return site["name"], to_bytes(calendar)


# --- the private feed ---------------------------------------------------------------------

async def account_for_token(token: str) -> int | None:
    if not _TOKEN.match(token or ""):
        return None
    # a deactivated account's address stops working with its login
    row = await CalendarFeed.select(CalendarFeed.account).where(
        (CalendarFeed.token == token) & (CalendarFeed.account.active == True)  # noqa: E712
    ).first()
    return row["account"] if row else None


async def feed_of(account_id: int) -> dict[str, Any] | None:
    return await CalendarFeed.select(CalendarFeed.token, CalendarFeed.created_at).where(
        CalendarFeed.account == account_id).first()


async def renew(account_id: int) -> str:
    """A new secret address; the old one (if any) stops working at once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with database.write_transaction():
        await CalendarFeed.delete().where(CalendarFeed.account == account_id)
        await CalendarFeed.insert(CalendarFeed(account=account_id, token=token))
    return token


async def forget(account_id: int) -> None:
    if not await CalendarFeed.exists().where(CalendarFeed.account == account_id):
        raise Refused("calendar_feed_missing", status=404)
    await CalendarFeed.delete().where(CalendarFeed.account == account_id)


def feed_url(token: str) -> str:
    return f"{public_url()}/calendar/me/{token}.ics"


async def my_feed(token: str, now: datetime) -> tuple[str, bytes]:
    """The owner's own bookings (not cancelled), with machine and place; no notes."""
    account_id = await account_for_token(token)
    if account_id is None:
        raise Refused.not_found("cet agenda", "this calendar")
    lower, upper = feed_window(now)
    bookings = await Booking.select(
        Booking.id, Booking.start_at, Booking.end_at, Booking.machine,
        Booking.machine.name.as_alias("machine_name"),
        Booking.machine.site.name.as_alias("site_name"),
        Booking.machine.site.address.as_alias("site_address"),
    ).where((Booking.maker == account_id) & (Booking.purpose == BookingPurpose.maker.value)
            & _active_booking(lower, upper)).order_by(Booking.start_at)
    name = "Mes réservations Fabbooking"
    calendar = _calendar(name, "Vos réservations de machines dans le réseau (agenda privé).")
    for b in bookings:
        site = {"name": b["site_name"], "address": b["site_address"]}
        calendar.add_component(_event(
            f"booking-{b['id']}", b["start_at"], b["end_at"], f"{b['machine_name']} — {b['site_name']}",
            now, location=_location(site), url=f"{public_url()}/me/bookings"))
    return name, to_bytes(calendar)
