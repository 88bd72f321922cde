"""The recurring workshops JSON API under /api/v1/workshops/series. Each date is a workshop:
it is moved (PATCH) or cancelled (POST …/cancel) alone with the workshops API."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody

from fabbooking.api.auth import CurrentViewer
from fabbooking.api.errors import error_responses, request_language
from fabbooking.api.moments import now
from fabbooking.workshops import series
from fabbooking.workshops.schemas import ConflictOut, SeriesDateOut, SeriesIn, SeriesOut
from fabbooking.workshops.services import WorkshopDraft


def series_draft(data: SeriesIn) -> series.SeriesDraft:
    workshop = WorkshopDraft(
        title=data.title, starts_at=data.start, ends_at=data.end, theme=data.theme,
        description=data.description, public=data.public, registration=data.registration,
        capacity=data.capacity, notes=data.notes, animator_ids=tuple(data.animator_ids),
        machine_ids=tuple(data.machine_ids))
    return series.SeriesDraft(workshop=workshop, frequency=data.frequency, until=data.until,
                              dates=tuple(data.dates))


def conflict_out(conflict: series.Conflict, language: str) -> ConflictOut:
    return ConflictOut(conflict.machine_id, conflict.machine_name, conflict.code,
                       conflict.reason_en if language == "en" else conflict.reason_fr,
                       conflict.holder, conflict.booking_id)


def preview_out(data: SeriesIn, preview: series.SeriesPreview, language: str) -> SeriesOut:
    return SeriesOut(
        id=None, site=preview.site["slug"], title=preview.workshop.title.strip(),
        frequency=data.frequency, until=data.until, cancelled_at=None,
        conflicting_dates=len(preview.conflicting),
        dates=[SeriesDateOut(d.occurrence.day, d.occurrence.starts_at, d.occurrence.ends_at,
                             [conflict_out(c, language) for c in d.conflicts])
               for d in preview.dates])


def series_out(row: dict[str, Any]) -> SeriesOut:
    return SeriesOut(
        id=row["id"], site=row["site_slug"], title=row["title"], frequency=row["frequency"],
        until=row["until"], cancelled_at=row["cancelled_at"],
        dates=[SeriesDateOut(day=w["day"], start=w["starts_at"], end=w["ends_at"],
                             workshop_id=w["id"], status=w["status"])
               for w in row["workshops"]])


class WorkshopSeriesController(Controller):
    path = "/workshops/series"
    tags = ["workshops"]

    @post("/", responses=error_responses(401, 403, 404, 409, 422))
    async def plan(self, request: Request, data: JSONBody[SeriesIn],
                   viewer: CurrentViewer) -> Response[SeriesOut]:
        """Plan a recurring workshop (the site's team). With `dry_run`, nothing is written:
        every date is listed with its conflicts (machine, who holds it, or the booking rule
        that refuses it). Otherwise every date is written in one transaction: with
        `on_conflict` `refuse`, a conflict anywhere refuses the whole series (409
        `series_conflicts`); with `skip`, the dates in conflict are left out. A booking made
        meanwhile on one of the slots undoes the whole series (409
        `series_changed_meanwhile`)."""
        draft = series_draft(data)
        if data.dry_run:
            preview = await series.preview_series(viewer, data.site, draft, now())
            return Response(preview_out(data, preview, request_language(request)), status_code=200)
        row = await series.plan_series(viewer, data.site, draft, data.on_conflict, now())
        return Response(series_out(row), status_code=201)

    @get("/{series_id:int}", responses=error_responses(401, 404))
    async def get_series(self, series_id: FromPath[int], viewer: CurrentViewer) -> SeriesOut:
        """The series and each of its workshops (the site's team)."""
        return series_out(await series.get_series(viewer, series_id, now()))

    @delete("/{series_id:int}", status_code=200, responses=error_responses(401, 404))
    async def cancel(self, series_id: FromPath[int], viewer: CurrentViewer) -> SeriesOut:
        """Cancel every workshop of the series still to come (their machines are free again,
        their registrations cancelled); those that have begun or are over stay."""
        return series_out(await series.cancel_series(viewer, series_id, now()))
