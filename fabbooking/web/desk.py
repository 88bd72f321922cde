"""The animator desk of a site: today at a glance, booking for a walk-in person, accounts made
on the spot, trainings, machine states and closures. Every form works without JavaScript;
with htmx, a refused form comes back alone in its own section."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

from fabbooking.accounts import services as accounts
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings import services as bookings
from fabbooking.bookings.rules import RULE_NAMES, BookingRules
from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.notifications.addresses import reach
from fabbooking.training import services as training
from fabbooking.usage import services as usage
from fabbooking.web.desk_forms import (
    ACCOUNT_REFUSAL_FIELDS,
    MACHINE_STATUSES,
    clock_choices,
    day_choices,
    duration_choices,
    next_clock,
    read_booking,
    read_closure,
    read_grant,
    whole_number,
)
from fabbooking.web.guards import desk_site, signed_in
from fabbooking.web.i18n import _
from fabbooking.web.rendering import fields_to_correct, go, page, refusal_text

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
TODAY_PIECE = "_desk_today.html"
PERSON_COLUMNS = (Account.id, Account.username, Account.display_name, Account.role, Account.email)
SEARCH_LIMIT = 20



def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


async def _person(account_id: int | None) -> dict[str, Any] | None:
    if account_id is None:
        return None
    return await Account.select(*PERSON_COLUMNS).where(
        (Account.id == account_id) & Account.active.eq(True)
    ).first()


async def _people(viewer: Viewer, search: str) -> list[dict[str, Any]]:
    """The people the desk's search finds: makers for an animator, anybody for an admin."""
    if not search.strip():
        return []
    ids = await accounts.search_accounts(search, limit=SEARCH_LIMIT, roles=accounts.roles_found_by(viewer))
    if not ids:
        return []
    return await Account.select(*PERSON_COLUMNS).where(
        Account.id.is_in(ids) & Account.active.eq(True)
    ).order_by(Account.display_name)


async def _booked(request: Request, booking_id: int | None) -> dict[str, Any] | None:
    if booking_id is None:
        return None
    try:
        return await bookings.get_booking(request.state.viewer, booking_id)
    except Refused:
        return None


async def _today_bookings(request: Request, site: dict[str, Any], today: date,
                          tz: ZoneInfo) -> dict[int, list[dict[str, Any]]]:
    rows = await bookings.list_bookings(request.state.viewer, site_slug=site["slug"],
                                        start=_midnight(today, tz),
                                        end=_midnight(today + timedelta(days=1), tz))
    by_machine: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] != "cancelled":
            by_machine.setdefault(row["machine"], []).append(row)
    return by_machine


async def _desk(request: Request, site: dict[str, Any], *, fragment: str = TODAY_PIECE,
                status: int = 200, maker_id: int | None = None, search: str = "", done: str = "",
                booking_id: int | None = None, alerts: dict[str, str] | None = None,
                errors: dict[str, str] | None = None,
                entered: dict[str, str] | None = None) -> Template:
    """The whole desk page, or one of its pieces for htmx."""
    tz = network.zone(site["timezone"])
    now = datetime.now(UTC)
    today = now.astimezone(tz).date()
    rules = BookingRules().overridden_by({name: site[name] for name in RULE_NAMES})
    calendar = (await network.site_calendars([site["id"]]))[site["id"]]
    opening = [(p["opens"], p["closes"]) for p in calendar.opening_rows]
    clocks = clock_choices(opening, rules.slot_minutes)
    start_now = next_clock(now.astimezone(tz), clocks)
    person = await _person(maker_id)
    machines = await network.list_machines(site["slug"])
    states = await usage.live_states([m["id"] for m in machines])
    for machine in machines:
        machine["live_state"] = states.get(machine["id"])
    return page(
        request, "desk.html", fragment, status=status,
        site=site, tz=tz, now=now, today=today,
        machines=machines,
        maintenance_due=await usage.due_maintenance(site["id"]),
        walk_ins=await usage.walk_ins(site["id"], _midnight(today, tz), now),
        today_bookings=await _today_bookings(request, site, today, tz),
        days=day_choices(today, rules), clocks=clocks, durations=duration_choices(rules),
        default_start=(start_now or clocks[0]).strftime("%H:%M") if clocks else "",
        person=person,
        qualifications=await training.qualifications_of(person["id"]) if person else [],
        person_reach=await reach(person["id"], person["email"]) if person else None,
        search=search, found=await _people(request.state.viewer, search), trainings=await training.list_trainings(),
        closures=[c for c in calendar.closure_rows if c["end_date"] >= today],
        statuses=MACHINE_STATUSES, min_password=Account._min_password_length,
        booked=await _booked(request, booking_id), done=done,
        alerts=alerts or {}, errors=errors or {}, entered=entered or {},
    )


class DeskPages(Controller):
    include_in_schema = False

    @get("/desk")
    async def sites(self, request: Request) -> Template:
        viewer = signed_in(request)
        sites = [s for s in await network.list_sites() if viewer.is_staff_of(s["id"])]
        if not sites:
            raise Refused("forbidden")
        return page(request, "desk_index.html", sites=sites)

    @get("/desk/{slug:str}")
    async def desk(self, request: Request, slug: FromPath[str], q: FromQuery[str] = "",
                   maker: FromQuery[int | None] = None, booking: FromQuery[int | None] = None,
                   done: FromQuery[str] = "") -> Template:
        site = await desk_site(request, slug)
        return await _desk(request, site, maker_id=maker, search=q, done=done, booking_id=booking)

    @post("/desk/{slug:str}/accounts")
    async def create_account(self, request: Request, slug: FromPath[str],
                             data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        new = accounts.NewAccount(username=data.get("username", ""),
                                  password=data.get("password", ""),
                                  display_name=data.get("display_name", ""))
        try:
            account = await accounts.create_account(new, created_by=request.state.viewer)
        except Refused as refused:
            text = refusal_text(request, refused)
            field = ACCOUNT_REFUSAL_FIELDS.get(refused.code)
            entered = {k: v for k, v in data.items() if k != "password"}
            return await _desk(request, site, fragment="_desk_person.html", status=refused.status,
                               entered=entered, errors={field: text} if field else {},
                               alerts={"person": fields_to_correct() if field else text})
        return go(request, f"/desk/{slug}?maker={account.id}&done=account#done")

    @post("/desk/{slug:str}/bookings")
    async def book(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        machine_ids = {m["id"] for m in await network.list_machines(slug)}
        wanted, errors = read_booking(data, network.zone(site["timezone"]), machine_ids)
        maker_id = wanted.maker_id if wanted else None
        if wanted is None:
            alert = errors.pop("book-person", "") or fields_to_correct()
            return await _desk(request, site, fragment="_desk_book.html", status=422,
                               maker_id=maker_id, entered=data, errors=errors,
                               alerts={"book": alert})
        try:
            booking = await bookings.book(request.state.viewer, wanted.machine_id, wanted.start,
                                          wanted.end, datetime.now(UTC), note=wanted.note,
                                          maker_id=wanted.maker_id)
        except Refused as refused:
            return await _desk(request, site, fragment="_desk_book.html", status=refused.status,
                               maker_id=maker_id, entered=data,
                               alerts={"book": refusal_text(request, refused)})
        return go(request, f"/desk/{slug}?maker={maker_id}&booking={booking['id']}&done=booked#done")

    @post("/desk/{slug:str}/bookings/{booking_id:int}/cancel")
    async def cancel(self, request: Request, slug: FromPath[str],
                     booking_id: FromPath[int]) -> Response | Template:
        site = await desk_site(request, slug)
        viewer = request.state.viewer
        booking = await bookings.get_booking(viewer, booking_id)
        if booking["site_slug"] != slug:
            raise bookings.booking_not_found(booking_id)
        try:
            await bookings.cancel(viewer, booking_id, datetime.now(UTC))
        except Refused as refused:
            return await _desk(request, site, status=refused.status,
                               alerts={"today": refusal_text(request, refused)})
        return go(request, f"/desk/{slug}?done=cancelled#done")

    @post("/desk/{slug:str}/qualifications")
    async def grant(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        today = datetime.now(UTC).astimezone(network.zone(site["timezone"])).date()
        grant, errors = read_grant(data, today)
        if grant is None:
            alert = errors.pop("grant-person", "") or fields_to_correct()
            return await _desk(request, site, fragment="_desk_training.html", status=422,
                               maker_id=whole_number(data.get("maker_id")), entered=data,
                               errors=errors,
                               alerts={"training": alert})
        try:
            await training.grant_qualification(request.state.viewer, grant.maker_id,
                                               grant.training_id, grant.expires_on, today, slug)
        except Refused as refused:
            return await _desk(request, site, fragment="_desk_training.html",
                               status=refused.status, maker_id=grant.maker_id, entered=data,
                               alerts={"training": refusal_text(request, refused)})
        return go(request, f"/desk/{slug}?maker={grant.maker_id}&done=trained#done")

    @post("/desk/{slug:str}/machines/{machine_id:int}/status")
    async def machine_status(self, request: Request, slug: FromPath[str], machine_id: FromPath[int],
                             data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        machine = await network.get_machine(machine_id)
        if machine["site_slug"] != slug:
            raise network.machine_not_found(machine_id)
        status = data.get("status", "")
        if status not in MACHINE_STATUSES:
            return await _desk(request, site, fragment="_desk_machines.html", status=422,
                               alerts={"machines": _("Choisissez un état dans la liste.")})
        await network.update_machine(request.state.viewer, machine_id, {"status": status})
        return go(request, f"/desk/{slug}?done=status#done")

    @post("/desk/{slug:str}/maintenance/{plan_id:int}/done")
    async def maintenance_done(self, request: Request, slug: FromPath[str],
                               plan_id: FromPath[int]) -> Response | Template:
        site = await desk_site(request, slug)
        await usage.mark_done(request.state.viewer, plan_id, datetime.now(UTC))
        return go(request, f"/desk/{site['slug']}?done=maintenance#done")

    @post("/desk/{slug:str}/closures")
    async def close(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        closure, errors = read_closure(data)
        if closure is None:
            return await _desk(request, site, fragment="_desk_closures.html", status=422,
                               entered=data, errors=errors, alerts={"closures": fields_to_correct()})
        try:
            await network.add_closure(request.state.viewer, slug, closure.start, closure.end,
                                      closure.reason)
        except Refused as refused:
            return await _desk(request, site, fragment="_desk_closures.html",
                               status=refused.status, entered=data,
                               alerts={"closures": refusal_text(request, refused)})
        return go(request, f"/desk/{slug}?done=closed#done")

    @post("/desk/{slug:str}/closures/{closure_id:int}/remove")
    async def reopen(self, request: Request, slug: FromPath[str],
                     closure_id: FromPath[int]) -> Response:
        await desk_site(request, slug)
        await network.remove_closure(request.state.viewer, slug, closure_id)
        return go(request, f"/desk/{slug}?done=reopened#done")
