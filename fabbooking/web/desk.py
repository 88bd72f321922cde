"""The animator desk of a site, one page per section: today at a glance, finding a person or
making their account on the spot, booking for them (with the machine's free stretches),
trainings, machine states and closures. Every form works without JavaScript; with htmx, a
refused form comes back alone in its own section and a search updates its results in place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from fabbooking.accounts import services as accounts
from fabbooking.bookings import services as bookings
from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.training import services as training
from fabbooking.usage import services as usage
from fabbooking.web import desk_sections as sections
from fabbooking.web.desk_forms import (
    ACCOUNT_REFUSAL_FIELDS,
    MACHINE_STATUSES,
    read_booking,
    read_closure,
    read_grant,
    whole_number,
)
from fabbooking.web.desk_sections import section_url
from fabbooking.web.guards import desk_site, signed_in
from fabbooking.web.i18n import _
from fabbooking.web.page_cache import CACHED
from fabbooking.web.rendering import fields_to_correct, go, page, refusal_text

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _desk(request: Request, site: dict[str, Any], section: str, *, fragment: str | None = None,
                status: int = 200, maker_id: int | None = None, done: str = "",
                booking_id: int | None = None, alerts: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, entered: dict[str, str] | None = None,
                **wanted: Any) -> Template:
    """One desk page (or, for htmx, its piece): the common frame and the section's own facts."""
    viewer = request.state.viewer
    frame = await sections.common(site, maker_id)
    tz, now, today, chosen = frame["tz"], frame["now"], frame["today"], frame["person"]
    if section == "today":
        facts = await sections.today(viewer, site, tz, now, today)
    elif section == "person":
        facts = await sections.finding(viewer, wanted.get("search", ""), chosen)
    elif section == "book":
        facts = await sections.booking_for_someone(site, tz, now, today, wanted.get("machine_id"),
                                                   wanted.get("day"), wanted.get("start"))
    elif section == "training":
        facts = await sections.trainings_of(chosen)
    elif section == "machines":
        facts = await sections.machine_states(site)
    else:
        facts = await sections.closures(site, today)
    _path, template, piece = sections.SECTIONS[section]
    return page(request, template, fragment or piece, status=status,
                **frame, **facts, section=section, then=wanted.get("then", ""), done=done,
                booked=await sections.booked(viewer, booking_id) if done == "booked" else None,
                alerts=alerts or {}, errors=errors or {}, entered=entered or {})


class DeskPages(Controller):
    include_in_schema = False

    @get("/desk")
    async def sites(self, request: Request) -> Template | Redirect:
        """The sites whose desk the viewer runs; an animator of a single site goes straight to it."""
        viewer = signed_in(request)
        sites = [s for s in await network.list_sites() if viewer.is_staff_of(s["id"])]
        if not sites:
            raise Refused("forbidden")
        if len(sites) == 1 and not viewer.is_admin:
            return Redirect(path=f"/desk/{sites[0]['slug']}", status_code=303)
        return page(request, "desk_index.html", sites=sites)

    @get("/desk/{slug:str}", opt=CACHED)
    async def desk(self, request: Request, slug: FromPath[str], maker: FromQuery[int | None] = None,
                   q: FromQuery[str] = "", done: FromQuery[str] = "") -> Template | Redirect:
        """Today at the site. (A search here is from before the desk had pages: to the person page.)"""
        site = await desk_site(request, slug)
        if q:
            return Redirect(path=section_url(slug, "person", maker, q=quote(q)), status_code=303)
        return await _desk(request, site, "today", maker_id=maker, done=done)

    @get("/desk/{slug:str}/person", opt=CACHED)
    async def person(self, request: Request, slug: FromPath[str], q: FromQuery[str] = "",
                     maker: FromQuery[int | None] = None, then: FromQuery[str] = "",
                     done: FromQuery[str] = "") -> Template:
        """Find a person (htmx: only the results change) or make their account."""
        site = await desk_site(request, slug)
        return await _desk(request, site, "person", fragment="_desk_person_results.html", maker_id=maker,
                           search=q[:200], then=sections.chosen_section(then, ""), done=done)

    @get("/desk/{slug:str}/book", opt=CACHED)
    async def booking_form(self, request: Request, slug: FromPath[str], maker: FromQuery[int | None] = None,
                           machine: FromQuery[int | None] = None, day: FromQuery[str] = "",
                           start: FromQuery[str] = "", booking: FromQuery[int | None] = None,
                           done: FromQuery[str] = "") -> Template:
        site = await desk_site(request, slug)
        return await _desk(request, site, "book", maker_id=maker, machine_id=machine, day=day, start=start,
                           booking_id=booking, done=done)

    @get("/desk/{slug:str}/training", opt=CACHED)
    async def training_form(self, request: Request, slug: FromPath[str], maker: FromQuery[int | None] = None,
                            done: FromQuery[str] = "") -> Template:
        site = await desk_site(request, slug)
        return await _desk(request, site, "training", maker_id=maker, done=done)

    @get("/desk/{slug:str}/machines", opt=CACHED)
    async def machines(self, request: Request, slug: FromPath[str], maker: FromQuery[int | None] = None,
                       done: FromQuery[str] = "") -> Template:
        site = await desk_site(request, slug)
        return await _desk(request, site, "machines", maker_id=maker, done=done)

    @get("/desk/{slug:str}/closures", opt=CACHED)
    async def closures(self, request: Request, slug: FromPath[str], maker: FromQuery[int | None] = None,
                       done: FromQuery[str] = "") -> Template:
        site = await desk_site(request, slug)
        return await _desk(request, site, "closures", maker_id=maker, done=done)

    @post("/desk/{slug:str}/accounts")
    async def create_account(self, request: Request, slug: FromPath[str],
                             data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        then = sections.chosen_section(data.get("then"), "")
        new = accounts.NewAccount(username=data.get("username", ""),
                                  password=data.get("password", ""),
                                  display_name=data.get("display_name", ""))
        try:
            account = await accounts.create_account(new, created_by=request.state.viewer)
        except Refused as refused:
            text = refusal_text(request, refused)
            field = ACCOUNT_REFUSAL_FIELDS.get(refused.code)
            entered = {k: v for k, v in data.items() if k != "password"}
            return await _desk(request, site, "person", status=refused.status, then=then,
                               entered=entered, errors={field: text} if field else {},
                               alerts={"person": fields_to_correct() if field else text})
        return go(request, section_url(slug, then or "person", account.id, done="account") + "#done")

    @post("/desk/{slug:str}/accounts/{account_id:int}/password")
    async def set_password(self, request: Request, slug: FromPath[str], account_id: FromPath[int],
                           data: Form) -> Response | Template:
        """A new password for a person who forgot theirs (the e-mail link is only for some)."""
        site = await desk_site(request, slug)
        try:
            await accounts.set_password_at_desk(request.state.viewer, account_id, data.get("password", ""))
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _desk(request, site, "person", maker_id=account_id, status=refused.status,
                               alerts={"person": refusal_text(request, refused)})
        return go(request, section_url(slug, "person", account_id, done="password") + "#done")

    @post("/desk/{slug:str}/bookings")
    async def book(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        machine_ids = {m["id"] for m in await network.list_machines(slug)}
        wanted, errors = read_booking(data, network.zone(site["timezone"]), machine_ids)
        maker_id = whole_number(data.get("maker_id"))
        again = {"machine_id": whole_number(data.get("machine_id")), "day": data.get("day"),
                 "start": data.get("start")}
        if wanted is None:
            alert = errors.pop("book-person", "") or fields_to_correct()
            return await _desk(request, site, "book", status=422, maker_id=maker_id, entered=data,
                               errors=errors, alerts={"book": alert}, **again)
        try:
            booking = await bookings.book(request.state.viewer, wanted.machine_id, wanted.start,
                                          wanted.end, datetime.now(UTC), note=wanted.note,
                                          maker_id=wanted.maker_id)
        except Refused as refused:
            return await _desk(request, site, "book", status=refused.status, maker_id=maker_id,
                               entered=data, alerts={"book": refusal_text(request, refused)}, **again)
        return go(request, section_url(slug, "book", maker_id, machine=wanted.machine_id,
                                       day=data.get("day"), booking=booking["id"], done="booked") + "#done")

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
            return await _desk(request, site, "today", status=refused.status,
                               alerts={"today": refusal_text(request, refused)})
        return go(request, f"/desk/{slug}?done=cancelled#done")

    @post("/desk/{slug:str}/qualifications")
    async def grant(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        today = datetime.now(UTC).astimezone(network.zone(site["timezone"])).date()
        grant, errors = read_grant(data, today)
        if grant is None:
            alert = errors.pop("grant-person", "") or fields_to_correct()
            return await _desk(request, site, "training", status=422,
                               maker_id=whole_number(data.get("maker_id")), entered=data,
                               errors=errors, alerts={"training": alert})
        try:
            await training.grant_qualification(request.state.viewer, grant.maker_id,
                                               grant.training_id, grant.expires_on, today, slug)
        except Refused as refused:
            return await _desk(request, site, "training", status=refused.status, maker_id=grant.maker_id,
                               entered=data, alerts={"training": refusal_text(request, refused)})
        return go(request, section_url(slug, "training", grant.maker_id, done="trained") + "#done")

    @post("/desk/{slug:str}/machines/{machine_id:int}/status")
    async def machine_status(self, request: Request, slug: FromPath[str], machine_id: FromPath[int],
                             data: Form) -> Response | Template:
        site = await desk_site(request, slug)
        machine = await network.get_machine(machine_id)
        if machine["site_slug"] != slug:
            raise network.machine_not_found(machine_id)
        status = data.get("status", "")
        if status not in MACHINE_STATUSES:
            return await _desk(request, site, "machines", status=422,
                               alerts={"machines": _("Choisissez un état dans la liste.")})
        await network.update_machine(request.state.viewer, machine_id, {"status": status})
        return go(request, f"/desk/{slug}/machines?done=status#done")

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
            return await _desk(request, site, "closures", status=422, entered=data, errors=errors,
                               alerts={"closures": fields_to_correct()})
        try:
            await network.add_closure(request.state.viewer, slug, closure.start, closure.end,
                                      closure.reason)
        except Refused as refused:
            return await _desk(request, site, "closures", status=refused.status, entered=data,
                               alerts={"closures": refusal_text(request, refused)})
        return go(request, f"/desk/{slug}/closures?done=closed#done")

    @post("/desk/{slug:str}/closures/{closure_id:int}/remove")
    async def reopen(self, request: Request, slug: FromPath[str],
                     closure_id: FromPath[int]) -> Response:
        await desk_site(request, slug)
        await network.remove_closure(request.state.viewer, slug, closure_id)
        return go(request, f"/desk/{slug}/closures?done=reopened#done")
