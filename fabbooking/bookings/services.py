"""Booking a machine, cancelling, listing, and what is free: the rules applied to the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fabbooking import database
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.availability import free_intervals
from fabbooking.bookings.calendar import Interval
from fabbooking.bookings.rules import (
    LONGEST_BOOKING,
    BookingRequest,
    BookingRules,
    cancel_deadline,
    check_cancellation,
    check_conflicts,
    check_period,
    check_qualification,
    check_quota,
)
from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus
from fabbooking.errors import Refused, is_overlap_violation
from fabbooking.network.services import MachinePlace, get_site, machine_place, site_places
from fabbooking.observability import metrics
from fabbooking.prepared import Prepared, written_rows
from fabbooking.references import kept
from fabbooking.training.services import held_qualifications

MAX_RANGE = timedelta(days=62)
MAX_LISTED = 1000
MAX_HORIZON = timedelta(days=3660)  # later than any booking can start (max_days_ahead ≤ 366)
PAST_PAGE = 50  # past bookings per page, newest first
INACTIVE = (BookingStatus.cancelled.value, BookingStatus.no_show.value)

BOOKING_COLUMNS = (
    Booking.all_columns(),
    Booking.machine.name.as_alias("machine_name"),
    Booking.machine.site.as_alias("site_id"),
    Booking.machine.site.slug.as_alias("site_slug"),
    Booking.maker.username.as_alias("maker_username"),
    Booking.maker.display_name.as_alias("maker_name"),
    Booking.machine.site.name.as_alias("site_name"),
    # the machine's own cancellation deadline, else its site's (see cancel_until)
    Booking.machine.cancel_deadline_minutes.as_alias("machine_cancel_deadline_minutes"),
    Booking.machine.site.cancel_deadline_minutes.as_alias("site_cancel_deadline_minutes"),
)


def cancel_until(row: dict[str, Any]) -> datetime:
    """Until when the maker of a booking row may cancel it online (the site's animators
    may at any time): the machine's deadline, else its site's."""
    minutes = row["machine_cancel_deadline_minutes"]
    if minutes is None:
        minutes = row["site_cancel_deadline_minutes"]
    return cancel_deadline(row["start_at"], BookingRules(cancel_deadline_minutes=minutes))


def cancellable_online(row: dict[str, Any], now: datetime) -> bool:
    """The maker may still cancel this booking themselves."""
    return row["status"] == BookingStatus.confirmed.value and now <= cancel_until(row)


def booking_not_found(booking_id: int) -> Refused:
    return Refused.not_found(f"la réservation n° {booking_id}", f"booking #{booking_id}")


def _active():
    return Booking.status.not_in(list(INACTIVE))


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Refused("invalid_range")
    if end - start > MAX_RANGE:
        raise Refused("range_too_long", days=MAX_RANGE.days)


def _overlapping(start: datetime, end: datetime):
    """Bookings that overlap [start, end), bounded on both sides of ``start_at`` so that an
    index on (machine or maker, start_at) reads only the entries around the range."""
    return (Booking.start_at > start - LONGEST_BOOKING) & (Booking.start_at < end) & (Booking.end_at > start)


_BUSY = Prepared(lambda machine_id, start, end, earliest: Booking.select(
    Booking.machine, Booking.start_at, Booking.end_at).where(
    (Booking.machine == machine_id) & _active() & (Booking.start_at > earliest)
    & (Booking.start_at < end) & (Booking.end_at > start)).order_by(Booking.start_at))


# written once: Piccolo composing an insert (a Table made, every column's value converted)
# was a tenth of a booking's CPU; the values are adapted by the driver as Piccolo's are. It
# answers with what the booking's answer needs beyond the kept machine (the maker's names)
# and whether the maker has proved an address (the confirmation's first question).
_INSERT = ("INSERT INTO booking (machine, maker, booked_by, start_at, end_at, status, note, purpose, "
           "created_at, cancelled_at, cancelled_by) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, NULL, NULL) "
           "RETURNING id, (SELECT username FROM account WHERE account.id = booking.maker) AS maker_username, "
           "(SELECT display_name FROM account WHERE account.id = booking.maker) AS maker_name, "
           "EXISTS (SELECT 1 FROM verified_address WHERE verified_address.account = booking.maker) AS proved")


# What a booking checks under the write lock, in one statement (a round trip less): the
# machine's busy times around the wanted period, as _BUSY reads them, and the count of the
# maker's own coming bookings at the site (the quota: those not over at ``now``, until the
# horizon), each bounded on an index like _overlapping.
_INACTIVE_SQL = ", ".join(f"'{status}'" for status in INACTIVE)
_BUSY_AND_HELD = (
    f"SELECT start_at, end_at, NULL AS held FROM booking WHERE machine = {{}} AND status NOT IN ({_INACTIVE_SQL}) "
    "AND start_at > {} AND start_at < {} AND end_at > {} "
    "UNION ALL SELECT NULL, NULL, count(*) FROM booking JOIN machine ON machine.id = booking.machine "
    f"WHERE booking.maker = {{}} AND booking.status NOT IN ({_INACTIVE_SQL}) "
    f"AND booking.purpose = '{BookingPurpose.maker.value}' AND booking.start_at > {{}} AND booking.start_at < {{}} "
    "AND booking.end_at > {} AND machine.site = {}")


async def busy_intervals(machine_id: int, start: datetime, end: datetime) -> list[Interval]:
    return (await busy_by_machine([machine_id], start, end))[machine_id]


async def busy_by_machine(machine_ids: list[int], start: datetime, end: datetime) -> dict[int, list[Interval]]:
    """Each machine's booked intervals over [start, end), in one query."""
    busy: dict[int, list[Interval]] = {m: [] for m in machine_ids}
    if not machine_ids:
        return busy
    if len(machine_ids) == 1:
        rows = await _BUSY.rows(machine_id=machine_ids[0], start=start, end=end, earliest=start - LONGEST_BOOKING)
    else:
        rows = await Booking.select(Booking.machine, Booking.start_at, Booking.end_at).where(
            Booking.machine.is_in(machine_ids) & _active() & _overlapping(start, end)
        ).order_by(Booking.start_at)
    for r in rows:
        busy[r["machine"]].append(Interval(r["start_at"], r["end_at"]))
    return busy


async def book(
    viewer: Viewer,
    machine_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    note: str = "",
    maker_id: int | None = None,
    purpose: BookingPurpose = BookingPurpose.maker,
    counters: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``_book``, counted in /metrics: made (by purpose) or refused (by code). ``counters``:
    the references' counters read earlier in the request, with nothing written since (see
    Kept.get); else read here."""
    try:
        booking = await _book(viewer, machine_id, start, end, now, note, maker_id, purpose, counters)
    except Refused as refused:
        metrics.bookings_refused.labels(refused.code).inc()
        raise
    metrics.bookings_created.labels(purpose.value).inc()
    return booking


async def _book(
    viewer: Viewer,
    machine_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    note: str,
    maker_id: int | None,
    purpose: BookingPurpose,
    counters: dict[str, int] | None,
) -> dict[str, Any]:
    """Book ``machine_id`` for [start, end) for the viewer, or for ``maker_id`` when an
    animator of the site books on someone's behalf. Raises Refused with the rule's code.

    A booking of purpose ``workshop`` holds the machine for a workshop: only the site's
    staff make one (so no quota applies), and it takes no training (the period and overlap
    rules still hold, so a workshop never overlaps a booking)."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    # the machine and the maker's trainings, kept or read, under one reading of the counters
    references = counters if counters is not None else await kept.counters()
    place = await machine_place(machine_id, references)
    by_staff = viewer.is_staff_of(place.site_id)
    for_workshop = purpose == BookingPurpose.workshop
    if (for_workshop or (maker_id is not None and maker_id != viewer.account_id)) and not by_staff:
        raise Refused("on_behalf_needs_staff")
    maker = maker_id if maker_id is not None else viewer.account_id
    # the viewer's own account was found active when they were recognised
    if maker != viewer.account_id and not await Account.exists().where(
            (Account.id == maker) & (Account.active == True)):  # noqa: E712
        raise Refused.not_found(f"la personne n° {maker}", f"person #{maker}")

    request = BookingRequest(start=start, end=end, now=now, by_staff=by_staff)
    refusal = check_period(request, place.facts) or (None if for_workshop else check_qualification(
        place.facts, await held_qualifications(maker, references), now.astimezone(place.facts.timezone).date()
    ))
    if refusal:
        raise Refused.because(refusal)

    buffer = timedelta(minutes=place.facts.rules.buffer_minutes)
    try:
        async with database.write_transaction(short=True, locks=_postgres_locks(machine_id, maker, by_staff)):
            around = await written_rows(
                Booking, _BUSY_AND_HELD, machine_id, start - buffer - LONGEST_BOOKING, end + buffer,
                start - buffer, maker, now - LONGEST_BOOKING, now + MAX_HORIZON, now, place.site_id)
            others = [Interval(r["start_at"], r["end_at"]) for r in around if r["held"] is None]
            held = next(r["held"] for r in around if r["held"] is not None)
            # a workshop hold is made by staff, whom the quota never limits
            refusal = check_conflicts(request, place.facts, others) or check_quota(
                request, place.facts, held
            )
            if refusal:
                raise Refused.because(refusal)
            note, created_at = note.strip()[:2000], datetime.now(UTC)
            rows = await written_rows(Booking, _INSERT, machine_id, maker, viewer.account_id, start, end,
                                      BookingStatus.confirmed.value, note, purpose.value, created_at,
                                      query_type="insert")
            # the confirmation goes only to a proved address: the insert says whether the
            # maker has one at all (most have none: then no statement more)
            if not for_workshop and rows[0]["proved"]:
                from fabbooking.notifications import events

                await events.booking_confirmed(rows[0]["id"], maker, now)
    except Exception as exc:
        if is_overlap_violation(exc):
            raise Refused("overlap") from None
        raise
    return _made_row(rows[0], place, {
        "machine": machine_id, "maker": maker, "booked_by": viewer.account_id, "start_at": start.astimezone(UTC),
        "end_at": end.astimezone(UTC), "status": BookingStatus.confirmed.value, "note": note,
        "purpose": purpose.value, "created_at": created_at, "cancelled_at": None, "cancelled_by": None})


# the advisory locks' first key for « a maker's coming bookings » (two int4 keys: a key space
# apart from the single bigint keys of the references' and the migrations' locks)
MAKER_LOCKS = 730_642


def _postgres_locks(machine_id: int, maker: int, by_staff: bool) -> str:
    """What a booking locks first on PostgreSQL (SQLite's write lock holds every writer): its
    machine's row, so the busy times and buffer hold until it commits, and — when the quota
    applies — its maker, whose quota spans every machine of the site. Always the machine
    first, and nothing locked after the maker, so two bookings never wait on each other
    in a circle."""
    if not database.is_postgres():
        return ""
    locks = f"SELECT id FROM machine WHERE id = {int(machine_id)} FOR UPDATE"
    if not by_staff:
        locks += f"; SELECT pg_advisory_xact_lock({MAKER_LOCKS}, {int(maker)})"
    return locks


def _made_row(inserted: dict[str, Any], place: MachinePlace, values: dict[str, Any]) -> dict[str, Any]:
    """The row of a booking just made, as ``_booking_row`` would read it back: from the values
    written, the insert's answer (its id, the maker's names) and the machine's place the rules
    were checked against (the same reading of the references)."""
    return {
        "id": inserted["id"], **values,
        "machine_name": place.machine["name"], "site_id": place.site_id, "site_slug": place.site_slug,
        "maker_username": inserted["maker_username"], "maker_name": inserted["maker_name"],
        "site_name": place.machine["site_name"],
        "machine_cancel_deadline_minutes": place.machine["cancel_deadline_minutes"],
        "site_cancel_deadline_minutes": place.machine["site_cancel_deadline_minutes"],
    }


_BOOKING = Prepared(lambda booking_id: Booking.select(*BOOKING_COLUMNS).where(Booking.id == booking_id).limit(1))


async def _booking_row(booking_id: int) -> dict[str, Any] | None:
    return await _BOOKING.first(booking_id=booking_id)


def _may_see(viewer: Viewer, row: dict[str, Any]) -> bool:
    return viewer.is_authenticated and (
        row["maker"] == viewer.account_id
        or row["booked_by"] == viewer.account_id
        or viewer.is_staff_of(row["site_id"])
    )


async def get_booking(viewer: Viewer, booking_id: int) -> dict[str, Any]:
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    row = await _booking_row(booking_id)
    if row is None or not _may_see(viewer, row):
        raise booking_not_found(booking_id)
    return row


async def cancel(viewer: Viewer, booking_id: int, now: datetime) -> dict[str, Any]:
    row = await get_booking(viewer, booking_id)
    if row["purpose"] == BookingPurpose.workshop.value:
        # The workshop still counts on the machine: it is freed by editing or cancelling
        # the workshop (workshops.services), never booking by booking.
        raise Refused("held_for_workshop", status=409)
    place = await machine_place(row["machine"])
    refusal = check_cancellation(
        start=row["start_at"], now=now, status=row["status"], rules=place.facts.rules,
        by_owner=row["maker"] == viewer.account_id, by_staff=viewer.is_staff_of(place.site_id),
    )
    if refusal:
        raise Refused.because(refusal)
    async with database.write_transaction(short=True):
        changed = await Booking.update(
            {Booking.status: BookingStatus.cancelled.value, Booking.cancelled_at: now,
             Booking.cancelled_by: viewer.account_id}
        ).where((Booking.id == booking_id) & (Booking.status == BookingStatus.confirmed.value)
                ).returning(Booking.id)
        if changed and row["maker"] != viewer.account_id:
            from fabbooking.notifications import events

            await events.bookings_ended("booking_cancelled", [booking_id])
        if changed:
            from fabbooking.waiting.services import on_slot_freed

            await on_slot_freed(row["machine"], row["start_at"], row["end_at"], now)
    if not changed:
        raise Refused("already_cancelled")
    return await _booking_row(booking_id)


async def list_bookings(
    viewer: Viewer,
    mine: bool = False,
    machine_id: int | None = None,
    site_slug: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    past_page: int = 0,
    past_size: int = PAST_PAGE,
) -> list[dict[str, Any]]:
    """Bookings the viewer may see: their own; all of a site for its animators; all for admins.

    With ``start`` or ``end``: those in the range, soonest first (at most MAX_LISTED).
    Without: every booking not over yet, soonest first, then the past ones newest first,
    ``past_size`` at a time (``past_page`` 0 is the latest) — however long the history."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    which = []
    own = (Booking.maker == viewer.account_id) | (Booking.booked_by == viewer.account_id)
    if machine_id is not None:
        place = await machine_place(machine_id)
        which.append(Booking.machine == machine_id)
        mine = mine or not viewer.is_staff_of(place.site_id)
    if site_slug:
        site = await get_site(site_slug)
        which.append(Booking.machine.site == site["id"])
        mine = mine or not viewer.is_staff_of(site["id"])
    if not mine and machine_id is None and not site_slug and not viewer.is_admin:
        staff_sites = list(viewer.staff_site_ids) if viewer.is_animator else []
        which.append(own | Booking.machine.site.is_in(staff_sites) if staff_sites else own)
    elif mine:  # a maker's own bookings: the machines an animator holds for a workshop are not theirs
        which.append((Booking.maker == viewer.account_id) & (Booking.purpose == BookingPurpose.maker.value))

    def select(*more):
        return Booking.select(*BOOKING_COLUMNS).where(*which, *more) if which or more else Booking.select(*BOOKING_COLUMNS)

    if start is not None or end is not None:
        bounds = []
        if start is not None:
            bounds += [Booking.end_at > start, Booking.start_at > start - LONGEST_BOOKING]
        if end is not None:
            bounds.append(Booking.start_at < end)
        return await select(*bounds).order_by(Booking.start_at).limit(MAX_LISTED)
    now = now or datetime.now(UTC)
    if mine and machine_id is None and not site_slug and past_page == 0:  # « my bookings »: the hot path
        upcoming = await _MY_UPCOMING.rows(maker=viewer.account_id, now=now, earliest=now - LONGEST_BOOKING,
                                           horizon=now + MAX_HORIZON)
        return upcoming + await _my_latest_past(past_size).rows(maker=viewer.account_id, now=now)
    upcoming = [] if past_page else await select(_overlapping(now, now + MAX_HORIZON)).order_by(
        Booking.start_at).limit(MAX_LISTED)
    past = await select(Booking.start_at < now, Booking.end_at <= now).order_by(
        Booking.start_at, ascending=False).limit(past_size).offset(past_page * past_size)
    return upcoming + past


def _mine(maker):
    return Booking.select(*BOOKING_COLUMNS).where(
        (Booking.maker == maker) & (Booking.purpose == BookingPurpose.maker.value))


_MY_UPCOMING = Prepared(lambda maker, now, earliest, horizon: _mine(maker).where(
    (Booking.start_at > earliest) & (Booking.start_at < horizon) & (Booking.end_at > now)
).order_by(Booking.start_at).limit(MAX_LISTED))
_MY_LATEST_PAST: dict[int, Prepared] = {}


def _my_latest_past(size: int) -> Prepared:
    """The latest ``size`` past bookings of a maker (one prepared query per page size)."""
    if size not in _MY_LATEST_PAST:
        _MY_LATEST_PAST[size] = Prepared(lambda maker, now: _mine(maker).where(
            (Booking.start_at < now) & (Booking.end_at <= now)
        ).order_by(Booking.start_at, ascending=False).limit(size))
    return _MY_LATEST_PAST[size]


async def machine_availability(
    machine_id: int, start: datetime, end: datetime, now: datetime
) -> dict[str, Any]:
    check_range(start, end)
    place = await machine_place(machine_id)
    return _availability(place, start, end, now, await busy_intervals(machine_id, start, end))


def _availability(place: MachinePlace, start: datetime, end: datetime, now: datetime,
                  busy: list[Interval]) -> dict[str, Any]:
    machine_id = place.machine_id
    free = free_intervals(start, end, now, place.facts, busy)
    return {
        "machine_id": machine_id,
        "site_slug": place.site_slug,
        "status": place.facts.status,
        "timezone": place.facts.timezone.key,
        "slot_minutes": place.facts.rules.slot_minutes,
        "min_minutes": place.facts.rules.min_minutes,
        "max_minutes": place.facts.rules.max_minutes,
        "busy": busy,
        "free": free,
    }


async def site_availability(
    site_slug: str, start: datetime, end: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Every machine of the site, in four queries whatever their number."""
    check_range(start, end)
    places = await site_places(await get_site(site_slug))
    busy = await busy_by_machine([p.machine_id for p in places], start, end)
    return [_availability(p, start, end, now, busy[p.machine_id]) for p in places]
