"""The figures as JSON under /api/v1/figures: the network's or a site's months.

Same columns as the open data (docs/open-data.md). Small counts of people are suppressed
(null) unless the caller may see them exactly: admins everywhere, a site's animators for
their site."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from fabbooking.api.auth import CurrentViewer
from fabbooking.api.errors import error_responses
from fabbooking.figures import queries, services
from fabbooking.figures.records import COLUMNS
from fabbooking.figures.suppression import PEOPLE_COLUMNS, min_count

_TEXT = {"month", "level", "site", "site_name", "timezone", "busiest_kind", "busiest_kind_basis"}
_FLOAT = {c for c in COLUMNS if "hours" in c}


def _type(column: str) -> Any:
    if column in _TEXT:
        return str
    if column == "no_show_rate":
        return float | None
    if column in _FLOAT:
        return float
    if column in PEOPLE_COLUMNS:
        return int | None
    return int


FiguresRow = msgspec.defstruct("FiguresRow", [(c, _type(c)) for c in COLUMNS])
FiguresRow.__doc__ = ("One month of a site (level « site ») or of the whole network (level "
                      "« network »). People counts are null when suppressed.")


class MonthlyFiguresOut(msgspec.Struct):
    first_month: str
    last_month: str
    min_count: int
    exact: bool
    licence: str
    rows: list[FiguresRow]  # type: ignore[valid-type]


# for the document only: a pattern Litestar enforced would replace our sentence with its own
MONTH = {"pattern": r"^((19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2]))?$"}  # empty: the default; 1900 to 9999
FROM = QueryParameter(name="from", default=None, description="First month, YYYY-MM (default: 12 months ending at `to`)",
                      schema_extra=MONTH)
TO = QueryParameter(name="to", default=None, description="Last month, YYYY-MM (default: last month)", schema_extra=MONTH)


async def _rows(viewer, site_slug: str | None, start: str | None, end: str | None) -> MonthlyFiguresOut:
    now = datetime.now(UTC)
    first, last = services.period(start, end, now)
    sites = await queries.sites()
    site = await services.find_site(site_slug, sites) if site_slug else None
    k = min_count()
    rows = []
    async for result in services.months(first, last, now, sites):
        published = services.publish(result, k, viewer)
        record = published.network if site is None else services.selected(published, site)[0]
        rows.append(FiguresRow(**record))
    return MonthlyFiguresOut(first_month=str(first), last_month=str(last), min_count=k,
                      exact=services.sees_exact(viewer, site.id if site else None),
                      licence=services.LICENCE, rows=rows)


class FiguresController(Controller):
    path = "/figures"
    tags = ["figures"]

    @get("/", responses=error_responses(422))
    async def network(self, viewer: CurrentViewer, start: str | None = FROM, end: str | None = TO) -> MonthlyFiguresOut:
        """The whole network, month by month (at most 60 months)."""
        return await _rows(viewer, None, start, end)

    @get("/sites/{slug:str}", responses=error_responses(404, 422))
    async def site(self, slug: FromPath[str], viewer: CurrentViewer, start: str | None = FROM,
                   end: str | None = TO) -> MonthlyFiguresOut:
        """One site, month by month, months in the site's timezone (at most 60 months)."""
        return await _rows(viewer, slug, start, end)
