"""Workshop pages: the public calendar, a workshop's page with registration, my
registrations, and the desk's pages to plan, edit, cancel and log workshops. Every form
works without JavaScript; a refused form comes back filled in, with what to correct."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.web.guards import desk_site, signed_in
from fabbooking.web.rendering import fields_to_correct, go, page, refusal_text
from fabbooking.workshops import access, registrations, services
from fabbooking.workshops.forms import (
    Entered,
    log_defaults,
    read_attendance,
    read_workshop,
    workshop_values,
)
from fabbooking.workshops.rules import AUDIENCES

CALENDAR_DAYS = 62


def _now() -> datetime:
    return datetime.now(UTC)


async def _entered(request: Request) -> Entered:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    lists = {k: [v for v in form.getall(k, []) if isinstance(v, str)]
             for k in ("machine_ids", "animator_ids")}
    return Entered(values, lists)


def by_day(rows: list[dict[str, Any]]) -> list[tuple[date, list[dict[str, Any]]]]:
    """Workshops grouped by their local day, in order."""
    days: OrderedDict[date, list] = OrderedDict()
    for row in rows:
        local = row["starts_at"].astimezone(network.zone(row["site_timezone"])).date()
        days.setdefault(local, []).append(row)
    return list(days.items())


async def _desk_workshop(request: Request, slug: str, workshop_id: int) -> tuple[dict, dict]:
    site = await desk_site(request, slug)
    row = await services.get_workshop(request.state.viewer, workshop_id)
    if row["site"] != site["id"]:
        raise access.workshop_not_found(workshop_id)
    return site, row


class WorkshopPages(Controller):
    include_in_schema = False

    # --- public -------------------------------------------------------------------

    @get("/workshops")
    async def calendar(self, request: Request, site: FromQuery[str] = "") -> Template:
        sites = await network.list_sites()
        chosen = site if any(s["slug"] == site for s in sites) else ""
        rows = await services.list_workshops(request.state.viewer, _now(), site_slug=chosen or None,
                                             public_only=True)
        return page(request, "workshop_calendar.html", days=by_day(rows), sites=sites,
                    chosen=chosen)

    @get("/workshops/{workshop_id:int}")
    async def workshop(self, request: Request, workshop_id: FromPath[int],
                       done: FromQuery[str] = "") -> Template:
        return await _workshop_page(request, workshop_id, done=done)

    @get("/workshops/{workshop_id:int}/register")
    async def register_link(self, request: Request, workshop_id: FromPath[int]) -> Response:
        """Where a login started from the registration button comes back to."""
        return go(request, f"/workshops/{workshop_id}#register")

    @post("/workshops/{workshop_id:int}/register")
    async def register(self, request: Request, workshop_id: FromPath[int]) -> Response | Template:
        viewer = signed_in(request)
        try:
            row = await registrations.register(viewer, workshop_id, _now())
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _workshop_page(request, workshop_id, status=refused.status,
                                        error=refusal_text(request, refused))
        return go(request, f"/workshops/{workshop_id}?done={row['status']}#register")

    @post("/workshops/{workshop_id:int}/registrations/{registration_id:int}/cancel")
    async def cancel_registration(self, request: Request, workshop_id: FromPath[int],
                                  registration_id: FromPath[int]) -> Response | Template:
        viewer = signed_in(request)
        try:
            row = await registrations.cancel_registration(viewer, workshop_id, registration_id, _now())
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _workshop_page(request, workshop_id, status=refused.status,
                                        error=refusal_text(request, refused))
        if row["account"] == viewer.account_id:
            return go(request, f"/workshops/{workshop_id}?done=unregistered#register")
        return go(request, f"/workshops/{workshop_id}?done=name-cancelled#registrations")

    @get("/me/workshops")
    async def mine(self, request: Request) -> Template:
        viewer = signed_in(request)
        rows = await registrations.my_registrations(viewer)
        now = _now()
        upcoming = [r for r in rows if r["ends_at"] > now and r["status"] != "cancelled"
                    and r["workshop_status"] == "planned"]
        others = [r for r in reversed(rows) if r not in upcoming]
        return page(request, "workshop_mine.html", upcoming=upcoming, others=others)

    # --- the desk -----------------------------------------------------------------

    @get("/desk/{slug:str}/workshops")
    async def desk(self, request: Request, slug: FromPath[str], done: FromQuery[str] = "",
                   workshop: FromQuery[int | None] = None) -> Template:
        site = await desk_site(request, slug)
        lists = await services.site_workshops(request.state.viewer, slug, _now())
        return page(request, "workshop_desk.html", site=site, tz=network.zone(site["timezone"]),
                    done=done, done_id=workshop, now=_now(), **lists)

    @get("/desk/{slug:str}/workshops/log")
    async def log_form(self, request: Request, slug: FromPath[str]) -> Template:
        site = await desk_site(request, slug)
        tz = network.zone(site["timezone"])
        entered = Entered(log_defaults(_now(), tz),
                          {"animator_ids": [str(request.state.viewer.account_id)]})
        return await _form_page(request, site, "log", entered)

    @post("/desk/{slug:str}/workshops/log")
    async def log(self, request: Request, slug: FromPath[str]) -> Response | Template:
        site = await desk_site(request, slug)
        entered = await _entered(request)
        answers, errors = read_workshop(entered, network.zone(site["timezone"]), with_counts=True,
                                        with_registration=False)
        if answers is None:
            return await _form_page(request, site, "log", entered, errors=errors, status=422)
        try:
            row = await services.log_workshop(request.state.viewer, slug, _draft(answers), _now())
        except Refused as refused:
            return await _form_page(request, site, "log", entered, status=refused.status,
                                    alert=refusal_text(request, refused))
        return go(request, f"/desk/{slug}/workshops?done=logged&workshop={row['id']}#workshop-{row['id']}")

    @get("/desk/{slug:str}/workshops/new")
    async def plan_form(self, request: Request, slug: FromPath[str]) -> Template:
        site = await desk_site(request, slug)
        entered = Entered({"public": "on", "start": "14:00", "end": "16:00"},
                          {"animator_ids": [str(request.state.viewer.account_id)]})
        return await _form_page(request, site, "plan", entered)

    @post("/desk/{slug:str}/workshops/new")
    async def plan(self, request: Request, slug: FromPath[str]) -> Response | Template:
        site = await desk_site(request, slug)
        entered = await _entered(request)
        answers, errors = read_workshop(entered, network.zone(site["timezone"]))
        if answers is None:
            return await _form_page(request, site, "plan", entered, errors=errors, status=422)
        try:
            row = await services.plan_workshop(request.state.viewer, slug, _draft(answers), _now())
        except Refused as refused:
            return await _form_page(request, site, "plan", entered, status=refused.status,
                                    alert=refusal_text(request, refused))
        return go(request, f"/desk/{slug}/workshops?done=planned&workshop={row['id']}#workshop-{row['id']}")

    @get("/desk/{slug:str}/workshops/{workshop_id:int}/edit")
    async def edit_form(self, request: Request, slug: FromPath[str],
                        workshop_id: FromPath[int]) -> Template:
        site, row = await _desk_workshop(request, slug, workshop_id)
        entered = workshop_values(row, network.zone(site["timezone"]))
        return await _form_page(request, site, "edit", entered, workshop=row)

    @post("/desk/{slug:str}/workshops/{workshop_id:int}/edit")
    async def edit(self, request: Request, slug: FromPath[str],
                   workshop_id: FromPath[int]) -> Response | Template:
        site, row = await _desk_workshop(request, slug, workshop_id)
        entered = await _entered(request)
        answers, errors = read_workshop(entered, network.zone(site["timezone"]))
        if answers is None:
            return await _form_page(request, site, "edit", entered, workshop=row, errors=errors,
                                    status=422)
        changes = {k: v for k, v in _draft(answers).__dict__.items() if k != "attendance"}
        try:
            await services.update_workshop(request.state.viewer, workshop_id, changes, _now())
        except Refused as refused:
            return await _form_page(request, site, "edit", entered, workshop=row,
                                    status=refused.status, alert=refusal_text(request, refused))
        return go(request, f"/workshops/{workshop_id}?done=saved")

    @get("/desk/{slug:str}/workshops/{workshop_id:int}/attendance")
    async def attendance_form(self, request: Request, slug: FromPath[str],
                              workshop_id: FromPath[int]) -> Template:
        site, row = await _desk_workshop(request, slug, workshop_id)
        entered = workshop_values(row, network.zone(site["timezone"]))
        return await _form_page(request, site, "attendance", entered, workshop=row)

    @post("/desk/{slug:str}/workshops/{workshop_id:int}/attendance")
    async def attendance(self, request: Request, slug: FromPath[str],
                         workshop_id: FromPath[int]) -> Response | Template:
        site, row = await _desk_workshop(request, slug, workshop_id)
        entered = await _entered(request)
        counts, machine_ids, errors = read_attendance(entered)
        if counts is None:
            return await _form_page(request, site, "attendance", entered, workshop=row,
                                    errors=errors, status=422)
        try:
            await services.log_attendance(request.state.viewer, workshop_id, counts, _now(),
                                          notes=entered.get("notes"), machine_ids=machine_ids)
        except Refused as refused:
            return await _form_page(request, site, "attendance", entered, workshop=row,
                                    status=refused.status, alert=refusal_text(request, refused))
        return go(request, f"/desk/{slug}/workshops?done=logged&workshop={workshop_id}#workshop-{workshop_id}")

    @get("/desk/{slug:str}/workshops/{workshop_id:int}/cancel")
    async def cancel_form(self, request: Request, slug: FromPath[str],
                          workshop_id: FromPath[int]) -> Template:
        site, row = await _desk_workshop(request, slug, workshop_id)
        return page(request, "workshop_cancel.html", site=site, workshop=row, error="",
                    tz=network.zone(site["timezone"]))

    @post("/desk/{slug:str}/workshops/{workshop_id:int}/cancel")
    async def cancel(self, request: Request, slug: FromPath[str],
                     workshop_id: FromPath[int]) -> Response | Template:
        site, row = await _desk_workshop(request, slug, workshop_id)
        try:
            await services.cancel_workshop(request.state.viewer, workshop_id, _now())
        except Refused as refused:
            return page(request, "workshop_cancel.html", status=refused.status, site=site,
                        workshop=row, error=refusal_text(request, refused),
                        tz=network.zone(site["timezone"]))
        return go(request, f"/desk/{slug}/workshops?done=cancelled")

    @post("/desk/{slug:str}/workshops/{workshop_id:int}/registrations")
    async def register_name(self, request: Request, slug: FromPath[str],
                            workshop_id: FromPath[int]) -> Response | Template:
        await _desk_workshop(request, slug, workshop_id)
        entered = await _entered(request)
        try:
            row = await registrations.register(request.state.viewer, workshop_id, _now(),
                                          name=entered.get("name"))
        except Refused as refused:
            return await _workshop_page(request, workshop_id, status=refused.status,
                                        desk_error=refusal_text(request, refused),
                                        entered_name=entered.get("name"))
        return go(request, f"/workshops/{workshop_id}?done=name-{row['status']}#registrations")


def _draft(answers) -> services.WorkshopDraft:
    return services.WorkshopDraft(
        title=answers.title, starts_at=answers.starts_at, ends_at=answers.ends_at,
        theme=answers.theme, description=answers.description, public=answers.public,
        registration=answers.registration, capacity=answers.capacity, notes=answers.notes,
        animator_ids=answers.animator_ids, machine_ids=answers.machine_ids,
        attendance=answers.attendance)


async def _form_page(request: Request, site: dict[str, Any], mode: str, entered: Entered, *,
                     workshop: dict | None = None, errors: dict[str, str] | None = None,
                     alert: str = "", status: int = 200) -> Template:
    """The plan, edit, « Noter un atelier » and attendance forms: one template, four uses."""
    if errors and not alert:
        alert = fields_to_correct()
    return page(
        request, "workshop_form.html", status=status, site=site, mode=mode, entered=entered,
        workshop=workshop, errors=errors or {}, alert=alert, audiences=AUDIENCES,
        machines=await network.list_machines(site["slug"]),
        team=await services.site_team(site["id"]),
        titles=await services.recent_titles(site["id"]) if mode in ("log", "plan") else [],
    )


async def _workshop_page(request: Request, workshop_id: int, *, status: int = 200,
                         done: str = "", error: str = "", desk_error: str = "",
                         entered_name: str = "") -> Template:
    viewer = request.state.viewer
    row = await services.get_workshop(viewer, workshop_id)
    staff = viewer.is_staff_of(row["site"])
    now = _now()
    return page(
        request, "workshop_page.html", status=status, workshop=row, staff=staff, done=done,
        error=error, desk_error=desk_error, entered_name=entered_name,
        tz=network.zone(row["site_timezone"]), now=now,
        open_for_registration=row["registration"] and row["status"] == "planned"
        and row["starts_at"] > now,
        mine=await registrations.my_active_registration(viewer, workshop_id),
        registrations=await registrations.list_registrations(viewer, workshop_id) if staff else [],
        person_name=registrations.person_name,
    )
