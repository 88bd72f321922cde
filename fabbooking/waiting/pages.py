"""« Me prévenir si une machine se libère »: the form, and « Ne plus me prévenir »."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

from fabbooking.errors import Refused
from fabbooking.network.tables import Machine, Site
from fabbooking.waiting import services
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import _
from fabbooking.web.rendering import go, page, refusal_text

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _read(fields: dict[str, str]) -> services.Wish:
    """The form's fields as a wish; a field that cannot be read is refused, named."""
    problems = []
    machine_id = None
    if fields.get("machine", "").strip():
        try:
            machine_id = int(fields["machine"])
        except ValueError:
            problems.append(_("la machine"))
    try:
        day = date.fromisoformat(fields.get("day", "").strip())
    except ValueError:
        problems.append(_("le jour (AAAA-MM-JJ)"))
    hours = []
    for name, label in (("start", _("l'heure de début (HH:MM)")), ("end", _("l'heure de fin (HH:MM)"))):
        try:
            hours.append(time.fromisoformat(fields.get(name, "").strip()))
        except ValueError:
            problems.append(label)
    if problems:
        raise Refused("invalid_input", problems=", ".join(problems))
    return services.Wish(day=day, start=hours[0], end=hours[1], machine_id=machine_id,
                         site_slug=fields.get("site", "").strip() or None, kind=fields.get("kind", "").strip() or None)


async def _form_page(request: Request, fields: dict[str, str], *, status: int = 200, error: str = "") -> Template:
    machine = None
    if fields.get("machine", "").isdigit():
        machine = await Machine.select(
            Machine.id, Machine.name, Machine.site.name.as_alias("site_name"),
        ).where(Machine.id == int(fields["machine"])).first()
    sites = [] if machine else await Site.select(Site.slug, Site.name).order_by(Site.name)
    return page(request, "waiting/ask.html", status=status, fields=fields, machine=machine, sites=sites,
                kinds=services.KINDS, error=error)


class WaitingPages(Controller):
    @get("/me/waiting-list/new")
    async def ask_form(self, request: Request, machine: FromQuery[str] = "", site: FromQuery[str] = "",
                       kind: FromQuery[str] = "", day: FromQuery[str] = "", start: FromQuery[str] = "",
                       end: FromQuery[str] = "") -> Template:
        """The form, filled from the page it was opened from (a machine, or a site and kind; a day)."""
        signed_in(request)
        fields: dict[str, Any] = {"machine": machine, "site": site, "kind": kind, "day": day or date.today().isoformat(),
                                  "start": start or "09:00", "end": end or "18:00"}
        return await _form_page(request, fields)

    @post("/me/waiting-list")
    async def ask(self, request: Request, data: Form) -> Response | Template:
        viewer = signed_in(request)
        try:
            await services.ask_to_be_told(viewer, _read(data), datetime.now(UTC))
        except Refused as refused:
            # shown again as sent: every field the form has, even one a script left out
            fields = {name: data.get(name, "") for name in ("machine", "site", "kind", "day", "start", "end")}
            return await _form_page(request, fields, status=refused.status, error=refusal_text(request, refused))
        return go(request, "/me/bookings?done=waiting#waiting")

    @post("/me/waiting-list/{wish_id:int}/withdraw")
    async def withdraw(self, request: Request, wish_id: FromPath[int]) -> Response:
        viewer = signed_in(request)
        await services.withdraw(viewer, wish_id)
        return go(request, "/me/bookings?done=withdrawn#waiting")
