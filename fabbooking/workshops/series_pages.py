"""The desk's pages for recurring workshops: the form, the preview of every date with its
conflicts (nothing written yet), the series with its dates, cancelling the series. Without
JavaScript: the preview carries the form's answers in hidden fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.web.desk_forms import read_day
from fabbooking.web.guards import desk_site
from fabbooking.web.rendering import fields_to_correct, go, page, refusal_text
from fabbooking.workshops import series, services
from fabbooking.workshops.forms import Entered, read_workshop
from fabbooking.workshops.pages import _draft, _entered
from fabbooking.workshops.series_forms import read_repeat


def _now() -> datetime:
    return datetime.now(UTC)


def _read(entered: Entered, site: dict[str, Any]) -> tuple[series.SeriesDraft | None, dict[str, str]]:
    answers, errors = read_workshop(entered, network.zone(site["timezone"]))
    repeat, repeat_errors = read_repeat(entered, answers, read_day(entered.get("day")))
    errors.update(repeat_errors)
    if answers is None or repeat is None or errors:
        return None, errors
    return series.SeriesDraft(_draft(answers), repeat.frequency, repeat.until, repeat.dates), {}


async def _form(request: Request, site: dict[str, Any], entered: Entered, *,
                errors: dict[str, str] | None = None, alert: str = "", status: int = 200) -> Template:
    if errors and not alert:
        alert = fields_to_correct()
    return page(request, "workshop_form.html", status=status, site=site, mode="series",
                entered=entered, workshop=None, errors=errors or {}, alert=alert, audiences=(),
                machines=await network.list_machines(site["slug"]),
                team=await services.site_team(site["id"]),
                titles=await services.recent_titles(site["id"]))


async def _series(request: Request, slug: str, series_id: int) -> tuple[dict, dict]:
    site = await desk_site(request, slug)
    row = await series.get_series(request.state.viewer, series_id, _now())
    if row["site"] != site["id"]:
        raise series.series_not_found(series_id)
    return site, row


class WorkshopSeriesPages(Controller):
    include_in_schema = False
    path = "/desk/{slug:str}/workshops/series"

    @get("/new")
    async def form(self, request: Request, slug: FromPath[str]) -> Template:
        site = await desk_site(request, slug)
        entered = Entered({"public": "on", "start": "14:00", "end": "16:00", "frequency": "weekly"},
                          {"animator_ids": [str(request.state.viewer.account_id)]})
        return await _form(request, site, entered)

    @post("/new")
    async def back_to_form(self, request: Request, slug: FromPath[str]) -> Template:
        """« Modifier » on the preview: the form again, as it was filled in."""
        site = await desk_site(request, slug)
        return await _form(request, site, await _entered(request))

    @post("/preview")
    async def preview(self, request: Request, slug: FromPath[str]) -> Template:
        site = await desk_site(request, slug)
        entered = await _entered(request)
        return await _preview_page(request, site, entered)

    @post("/")
    async def plan(self, request: Request, slug: FromPath[str]) -> Response | Template:
        site = await desk_site(request, slug)
        entered = await _entered(request)
        draft, errors = _read(entered, site)
        if draft is None:
            return await _form(request, site, entered, errors=errors, status=422)
        try:
            row = await series.plan_series(request.state.viewer, slug, draft,
                                           entered.get("on_conflict"), _now())
        except Refused as refused:
            return await _preview_page(request, site, entered, status=refused.status,
                                       alert=refusal_text(request, refused))
        return go(request, f"/desk/{slug}/workshops/series/{row['id']}?done=planned")

    @get("/{series_id:int}")
    async def show(self, request: Request, slug: FromPath[str], series_id: FromPath[int],
                   done: FromQuery[str] = "") -> Template:
        site, row = await _series(request, slug, series_id)
        return page(request, "workshops/series_page.html", site=site, series=row, done=done,
                    tz=network.zone(site["timezone"]), now=_now())

    @get("/{series_id:int}/cancel")
    async def cancel_form(self, request: Request, slug: FromPath[str],
                          series_id: FromPath[int]) -> Template:
        site, row = await _series(request, slug, series_id)
        return page(request, "workshops/series_cancel.html", site=site, series=row,
                    tz=network.zone(site["timezone"]), now=_now())

    @post("/{series_id:int}/cancel")
    async def cancel(self, request: Request, slug: FromPath[str],
                     series_id: FromPath[int]) -> Response:
        await _series(request, slug, series_id)
        await series.cancel_series(request.state.viewer, series_id, _now())
        return go(request, f"/desk/{slug}/workshops/series/{series_id}?done=cancelled")


async def _preview_page(request: Request, site: dict[str, Any], entered: Entered, *,
                        status: int = 200, alert: str = "") -> Template:
    """Every date and its conflicts, the answers kept in hidden fields; or the form again
    when a field is wrong or the series cannot be planned at all."""
    draft, errors = _read(entered, site)
    if draft is None:
        return await _form(request, site, entered, errors=errors, status=422)
    try:
        preview = await series.preview_series(request.state.viewer, site["slug"], draft, _now())
    except Refused as refused:
        if refused.code in ("not_authenticated", "not_staff_of_site"):
            raise
        return await _form(request, site, entered, status=refused.status,
                           alert=refusal_text(request, refused))
    return page(request, "workshops/series_preview.html", status=status, site=site,
                entered=entered, preview=preview, alert=alert,
                tz=network.zone(site["timezone"]))
