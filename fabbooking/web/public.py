"""Pages anyone can see: the network's sites, a site, login, language."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from fabbooking.accounts import services as accounts
from fabbooking.api.auth import SESSION_COOKIE, client_address, set_session_cookie
from fabbooking.bookings.calendar import hours_on
from fabbooking.errors import Refused
from fabbooking.network import services as network
from fabbooking.schedule.now import MachineNow
from fabbooking.schedule.search import search_choices
from fabbooking.schedule.services import machines_now, network_zone
from fabbooking.settings import load_settings
from fabbooking.usage import services as usage
from fabbooking.web.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES
from fabbooking.web.page_cache import CACHED
from fabbooking.web.rendering import go, page, refusal_text, safe_next, with_retry_after, without_query_parameter
from fabbooking.workshops import services as workshops

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
SITE_WORKSHOPS_SHOWN = 5  # the next ones; the calendar has the rest


def site_summary(site: dict[str, Any], calendar: network.SiteCalendar, machines: list[dict[str, Any]],
                 states: dict[int, str], now_states: dict[int, MachineNow], now: datetime) -> dict[str, Any]:
    """A site as the home page shows it: machines, and today's hours in its timezone."""
    tz = network.zone(site["timezone"])
    local_now = now.astimezone(tz)
    today = hours_on(local_now.date(), calendar.periods, calendar.closures)
    open_now = any(p.opens <= local_now.time() < p.closes for p in today)
    for machine in machines:
        machine["live_state"] = states.get(machine["id"])
        machine["now"] = now_states.get(machine["id"])
    return {**site, "today": today, "open_now": open_now, "machines": machines, "calendar": calendar}


async def site_summaries(sites: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Several sites at once, in four queries whatever their number: calendars, machines,
    machines' live states, their bookings from now on."""
    calendars = await network.site_calendars([s["id"] for s in sites])
    machines = await network.list_machines(sites[0]["slug"]) if len(sites) == 1 else await network.list_machines()
    states = await usage.live_states([m["id"] for m in machines])
    now_states = await machines_now(machines, calendars, now)
    by_site: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for machine in machines:
        by_site[machine["site"]].append(machine)
    return [site_summary(s, calendars[s["id"]], by_site[s["id"]], states, now_states, now) for s in sites]


def _page_of(request: Request, posted: str | None) -> str | None:
    """The page the switch was pressed on. htmx may have changed its address since it was
    drawn (a week swapped in, filters applied): the browser's Referer says where it is now,
    when it comes from this very site; otherwise the ``next`` the form carries."""
    referer = urlsplit(request.headers.get("referer", ""))
    ours = {request.url.netloc, urlsplit(load_settings().public_url).netloc}
    if referer.scheme in ("http", "https") and referer.netloc in ours and referer.path:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return posted


class PublicPages(Controller):
    include_in_schema = False

    @get("/", opt=CACHED)
    async def home(self, request: Request) -> Template:
        now = datetime.now(UTC)
        found = await network.list_sites()
        sites = sorted(await site_summaries(found, now), key=lambda s: (not s["neighbourhood"], s["neighbourhood"]))
        kinds = {m["kind"] for s in sites for m in s["machines"]}
        return page(request, "home.html", sites=sites,
                    search=search_choices(kinds, now.astimezone(network_zone(found)).date()))

    @get("/sites/{slug:str}", opt=CACHED)
    async def site(self, request: Request, slug: FromPath[str]) -> Template:
        now = datetime.now(UTC)
        found = await network.get_site(slug)
        [site] = await site_summaries([found], now)
        upcoming = await workshops.list_workshops(request.state.viewer, now, slug, public_only=True,
                                                  limit=SITE_WORKSHOPS_SHOWN, site=found)
        return page(request, "site.html", "_site_machines.html", site=site, opening=site["calendar"].opening_rows,
                    closures=site["calendar"].closure_rows, workshops=upcoming)

    @get("/login")
    async def login_form(self, request: Request, next: FromQuery[str] = "/") -> Template:
        return page(request, "login.html", next=safe_next(next), username="", error="")

    @post("/login")
    async def login(self, request: Request, data: Form) -> Response | Template:
        username, password = data.get("username", ""), data.get("password", "")
        next_url = safe_next(data.get("next"))
        try:
            account_id = await accounts.check_login(username, password, client_address(request))
        except Refused as refused:
            return with_retry_after(refused, page(request, "login.html", status=refused.status, next=next_url,
                                                  username=username, error=refusal_text(request, refused)))
        response = go(request, next_url)
        set_session_cookie(response, await accounts.open_session(account_id), request)
        return response

    @post("/logout")
    async def logout(self, request: Request) -> Response:
        if token := request.cookies.get(SESSION_COOKIE):
            await accounts.close_session(token)
        response = go(request, "/")
        response.delete_cookie(SESSION_COOKIE)
        return response

    @post("/language")
    async def language(self, request: Request, data: Form) -> Redirect:
        choice = data.get("lang", "")
        # Back to the same page with its query (the chosen slot, week or person), minus a
        # ``lang`` in it, which would otherwise win over the choice just made.
        back = without_query_parameter(safe_next(_page_of(request, data.get("next"))), "lang")
        response = Redirect(path=back, status_code=303)
        if choice in LANGUAGE_NAMES:
            response.set_cookie(LANGUAGE_COOKIE, choice, max_age=365 * 24 * 3600, samesite="lax",
                                httponly=True, secure=load_settings().https)
            if request.state.viewer.is_authenticated:
                await accounts.set_language(request.state.viewer.account_id, choice)
        return response
