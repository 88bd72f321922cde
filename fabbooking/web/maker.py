"""A maker's pages: a machine's week, booking in three steps, my bookings, my trainings, my account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Template

from fabbooking.accounts import services as accounts
from fabbooking.accounts.tables import Account
from fabbooking.api.auth import SESSION_COOKIE, client_address
from fabbooking.api.moments import parse_moment
from fabbooking.bookings import services as bookings
from fabbooking.bookings.rules import BookingRules, cancel_deadline
from fabbooking.bookings.schedule import machine_week, slot_choice
from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.projects import attachments as projects
from fabbooking.training.services import qualifications_of
from fabbooking.usage import services as usage
from fabbooking.waiting import services as waiting
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import _
from fabbooking.web.page_cache import CACHED
from fabbooking.web.rendering import go, page, refusal_text, with_retry_after

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE = QueryParameter(name="page", default=0, ge=0, le=100_000)
PAST_SHOWN = 10  # past bookings per page of « Mes réservations »: a short page on a phone



def _week_param(week: str | None) -> date | None:
    try:
        return date.fromisoformat(week) if week else None
    except ValueError:
        return None


async def _machine_page(request: Request, machine_id: int, week: str | None) -> Template:
    place = await network.machine_place(machine_id)
    machine = {**place.machine, "live_state": (await usage.live_states([machine_id])).get(machine_id)}
    site = {"slug": machine["site_slug"], "name": machine["site_name"]}
    schedule = await machine_week(machine_id, _week_param(week), datetime.now(UTC), place)
    return page(request, "machine.html", "_week.html", machine=machine, site=site,
                schedule=schedule, tz=place.facts.timezone)


def _moment(text: str) -> datetime | None:
    try:
        return parse_moment("start", text)
    except Refused:
        return None


def _minutes(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


async def _booking_form(request: Request, machine_id: int, start_text: str, error: str = "",
                        status: int = 200, chosen_text: str = "", minutes_text: str = "") -> Template:
    """The form for the free cell starting at ``start_text``, with the start and duration
    chosen so far (``chosen_text``, ``minutes_text``) and what they make: the end, and until
    when the booking can be cancelled online."""
    place = await network.machine_place(machine_id)
    machine = place.machine
    now = datetime.now(UTC)
    start = _moment(start_text)
    choice = await slot_choice(machine_id, start, now, place) if start else None
    starts: list[datetime] = []
    summary = None
    if choice:
        cell_end = choice.start + timedelta(minutes=60)
        moment = choice.start
        while moment < cell_end and moment < choice.ends[-1]:
            starts.append(moment)
            moment += timedelta(minutes=place.facts.rules.slot_minutes)
        durations = [int((end - choice.start) / timedelta(minutes=1)) for end in choice.ends]
        chosen = _moment(chosen_text)
        minutes = _minutes(minutes_text)
        summary = BookingSummary(
            start=chosen if chosen in starts else starts[0],
            minutes=minutes if minutes in durations else (60 if 60 in durations else durations[0]),
            deadline_minutes=place.facts.rules.cancel_deadline_minutes)
    return page(request, "book.html", "_book_form.html", status=status, machine=machine,
                choice=choice, starts=starts, tz=place.facts.timezone, error=error,
                start_text=start_text, rules=place.facts.rules, summary=summary, now=now,
                projects=await projects.projects_to_book_for(request.state.viewer))


@dataclass(frozen=True)
class BookingSummary:
    """What the booking form's choices make: shown under the form, kept up to date by htmx."""

    start: datetime
    minutes: int
    deadline_minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def cancel_until(self) -> datetime:
        return cancel_deadline(self.start, BookingRules(cancel_deadline_minutes=self.deadline_minutes))


class MakerPages(Controller):
    include_in_schema = False

    @get("/machines/{machine_id:int}", opt=CACHED)
    async def machine(self, request: Request, machine_id: FromPath[int], week: FromQuery[str | None] = None) -> Template:
        return await _machine_page(request, machine_id, week)

    @get("/machines/{machine_id:int}/badge", opt=CACHED)
    async def badge(self, request: Request, machine_id: FromPath[int]) -> Template:
        """The machine's state badge alone, polled by htmx on the machine page."""
        machine = await network.get_machine(machine_id)
        machine["live_state"] = (await usage.live_states([machine_id])).get(machine_id)
        return page(request, "_machine_badge.html", machine=machine)

    @get("/machines/{machine_id:int}/book")
    async def booking_form(self, request: Request, machine_id: FromPath[int], start: FromQuery[str] = "",
                           cell: FromQuery[str] = "", minutes: FromQuery[str] = "") -> Template:
        """The form for a free cell (``start``); htmx asks it again with the form's fields
        (the cell, the chosen start and duration) to show the end and the cancel deadline."""
        signed_in(request)
        if cell:
            return await _booking_form(request, machine_id, cell, chosen_text=start, minutes_text=minutes)
        return await _booking_form(request, machine_id, start)

    @post("/machines/{machine_id:int}/book")
    async def book(self, request: Request, machine_id: FromPath[int], data: Form) -> Response | Template:
        viewer = signed_in(request)
        try:
            start = parse_moment("start", data.get("start", ""))
            minutes = int(data.get("minutes", "0"))
            booking = await bookings.book(viewer, machine_id, start, start + timedelta(minutes=minutes),
                                          datetime.now(UTC), note=data.get("note", ""))
        except (ValueError, OverflowError):
            return await _booking_form(request, machine_id, data.get("cell", ""), status=422,
                                       error=_("Choisissez une durée dans la liste."))
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _booking_form(request, machine_id, data.get("cell", ""),
                                       error=refusal_text(request, refused), status=refused.status,
                                       chosen_text=data.get("start", ""), minutes_text=data.get("minutes", ""))
        if data.get("project"):
            await projects.attach_new_booking(viewer, data["project"], booking["id"])
        return go(request, f"/me/bookings?done=booked#booking-{booking['id']}")

    @get("/me/bookings", opt=CACHED)
    async def my_bookings(self, request: Request, done: FromQuery[str] = "", page_number: int = PAGE) -> Template:
        """Every booking to come, then the past (and cancelled) ones, newest first, a page at a time."""
        viewer = signed_in(request)
        now = datetime.now(UTC)
        rows = await bookings.list_bookings(viewer, mine=True, now=now, past_page=page_number,
                                            past_size=PAST_SHOWN)
        upcoming = [{**b, "cancellable": bookings.cancellable_online(b, now), "cancel_until": bookings.cancel_until(b)}
                    for b in rows if b["end_at"] > now and b["status"] == "confirmed"]
        past = sorted((b for b in rows if not (b["end_at"] > now and b["status"] == "confirmed")),
                      key=lambda b: b["start_at"], reverse=True)
        older = sum(b["end_at"] <= now for b in past) == PAST_SHOWN
        timezones = await _site_timezones()
        wishes = [] if page_number else await waiting.my_wishes(viewer, now)
        return page(request, "my_bookings.html", upcoming=upcoming, past=past, done=done,
                    timezones=timezones, page_number=page_number, older=older, wishes=wishes)

    @get("/me/bookings/{booking_id:int}/cancel")
    async def cancel_form(self, request: Request, booking_id: FromPath[int]) -> Template:
        viewer = signed_in(request)
        booking = await bookings.get_booking(viewer, booking_id)
        return await _cancel_page(request, booking)

    @post("/me/bookings/{booking_id:int}/cancel")
    async def cancel(self, request: Request, booking_id: FromPath[int]) -> Response | Template:
        viewer = signed_in(request)
        try:
            await bookings.cancel(viewer, booking_id, datetime.now(UTC))
        except Refused as refused:
            if refused.code == "not_found":
                raise
            booking = await bookings.get_booking(viewer, booking_id)
            return await _cancel_page(request, booking, status=refused.status, error=refusal_text(request, refused))
        return go(request, "/me/bookings?done=cancelled")

    @get("/me/trainings")
    async def my_trainings(self, request: Request) -> Template:
        viewer = signed_in(request)
        return page(request, "my_trainings.html", qualifications=await qualifications_of(viewer.account_id),
                    today=datetime.now(UTC).date())

    @get("/me/account")
    async def account(self, request: Request, done: FromQuery[str] = "") -> Template:
        viewer = signed_in(request)
        return await _account_page(request, viewer.account_id, done=done)

    @post("/me/account/password")
    async def change_password(self, request: Request, data: Form) -> Response | Template:
        viewer = signed_in(request)
        current, new, again = data.get("current", ""), data.get("new", ""), data.get("again", "")
        if new != again:
            return await _account_page(request, viewer.account_id, status=422,
                                       error=_("Les deux nouveaux mots de passe ne sont pas identiques."))
        try:
            await accounts.change_password(viewer.account_id, current, new, client_address(request),
                                           keep_session=request.cookies.get(SESSION_COOKIE))
        except Refused as refused:
            return with_retry_after(refused, await _account_page(
                request, viewer.account_id, status=refused.status, error=refusal_text(request, refused)))
        return go(request, "/me/account?done=password")


async def _account_page(request: Request, account_id: int, *, status: int = 200, error: str = "",
                        done: str = "") -> Template:
    account = await Account.select(Account.username, Account.display_name, Account.email,
                                   Account.role, Account.language).where(Account.id == account_id).first()
    return page(request, "account.html", status=status, account=account, error=error, done=done)


async def _cancel_page(request: Request, booking: dict, *, status: int = 200, error: str = "") -> Template:
    """« Cancel this booking? »: the button only while the viewer may still press it (the
    site's team may at any time); past the online deadline, whom to ask instead."""
    now = datetime.now(UTC)
    may_cancel = booking["status"] == "confirmed" and (
        bookings.cancellable_online(booking, now) or request.state.viewer.is_staff_of(booking["site_id"]))
    return page(request, "cancel.html", status=status, booking={**booking, "cancel_until": bookings.cancel_until(booking)},
                error=error, may_cancel=may_cancel, timezones=await _site_timezones())


async def _site_timezones() -> dict[str, str]:
    return {s["slug"]: s["timezone"] for s in await network.list_sites()}
