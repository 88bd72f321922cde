"""The network's schedule page: every machine's free stretches for one day, for anyone."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.response import Template

from fabbooking.schedule.services import network_schedule
from fabbooking.web.i18n import _
from fabbooking.web.page_cache import CACHED
from fabbooking.web.rendering import page

FIELDS = ("day", "period", "kind", "site", "neighbourhood", "trained")


class SchedulePages(Controller):
    include_in_schema = False

    @get("/schedule", opt=CACHED)
    async def schedule(self, request: Request) -> Template:
        """Filters come from the address (a GET form): a wrong one re-shows the form with
        what to choose instead (422), never an error page."""
        params = {name: request.query_params.get(name) or "" for name in FIELDS}
        schedule = await network_schedule(request.state.viewer, params, datetime.now(UTC), _)
        problems = schedule.reading.problems
        return page(request, "schedule/page.html", "schedule/_schedule.html",
                    status=422 if problems else 200, schedule=schedule, filters=schedule.reading.filters,
                    problems=problems, values=params, link=_link)


def _link(query: dict[str, str]) -> str:
    return "/schedule?" + urlencode(query) if query else "/schedule"
