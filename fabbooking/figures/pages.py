"""Pages of the figures domain: the dashboards (network, site), the open-data page and
its streamed files, the iCalendar feeds and the maker's private calendar address."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from litestar import Controller, HttpMethod, Request, Response, get, post, route
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream, Template

from fabbooking.api.errors import refused_handler
from fabbooking.errors import Refused
from fabbooking.figures import calendar_feeds as feeds
from fabbooking.figures import queries, services
from fabbooking.figures.charts import Group, Series, bar_chart
from fabbooking.figures.monthly import AUDIENCES, MACHINE_KINDS, Month, SiteRow
from fabbooking.figures.records import column_docs
from fabbooking.figures.suppression import min_count
from fabbooking.ids import is_id
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import _, current_language
from fabbooking.web.rendering import go, page, refusal_text

MONTHS_SHOWN = 12
MONTHS_OFFERED = 24
FROM = QueryParameter(name="from", default="", description="First month, YYYY-MM")
TO = QueryParameter(name="to", default="", description="Last month, YYYY-MM (default: last month)")
FEED_CACHE = "public, max-age=300"
# read afresh on every request: a late no-show or session shows at once (closed months are
# kept in process while unchanged, figures/kept_months.py, so a long period costs little)
EXPORT_CACHE = "no-cache"
MACHINE_ID = re.compile(r"[0-9]{1,18}")  # below 2**63, the largest id both databases hold


def audience_names() -> dict[str, str]:
    return {
        "children": _("Enfants"), "teens": _("Adolescents"), "adults": _("Adultes"),
        "seniors": _("Seniors"), "job_seekers": _("Personnes en recherche d'emploi"),
        "school_groups": _("Groupes scolaires"), "other": _("Autres publics"),
    }


def kind_names() -> dict[str, str]:
    return {
        "3d_printer": _("Imprimante 3D"), "laser_cutter": _("Découpeuse laser"),
        "vinyl_cutter": _("Découpeuse vinyle"), "cnc": _("Fraiseuse numérique"),
        "embroidery": _("Brodeuse"), "other": _("Autre machine"),
    }


def month_label(month: Month, pattern: str = "MMMM yyyy") -> str:
    return format_date(date(month.year, month.month, 1), pattern, locale=current_language.get())


def number(value: float | int) -> str:
    return format_decimal(value, "#,##0.#", locale=current_language.get())


def hours_text(value: float) -> str:
    return f"{number(value)} h"


def rate_text(value: float | None) -> str:
    return "—" if value is None else format_percent(value, "#,##0 %", locale=current_language.get())


def people_text(value: int | None) -> str:
    """A suppressed count says « masqué », not « < k »: secondary suppression also hides
    counts of k or more (even the network's), and « < 3 » would then be false."""
    return _("masqué") if value is None else number(value)


def _charts(series: list[tuple[Month, dict]], current: dict, k: int, chart_prefix: str) -> dict[str, str]:
    audiences = audience_names()
    kinds = kind_names()
    first, last = series[0][0], series[-1][0]
    hours = bar_chart(
        f"{chart_prefix}-hours", _("Heures réservées et heures d'utilisation, par mois"),
        _("De %(first)s à %(last)s : pour chaque mois, une barre hachurée bleue pour les heures "
          "réservées et une barre verte pleine pour les heures où les machines ont tourné. "
          "Les mêmes chiffres sont dans le tableau qui suit.",
          first=month_label(first), last=month_label(last)),
        [Series(_("Réservées"), hatched=True), Series(_("Utilisées"))],
        [Group(month_label(m, "MMM yyyy"), (r["booked_hours"], r["used_hours"]),
               (hours_text(r["booked_hours"]), hours_text(r["used_hours"]))) for m, r in series],
    )
    people = bar_chart(
        f"{chart_prefix}-audience", _("Participants aux ateliers par public, %(month)s",
                                      month=month_label(last)),
        _("Une barre par public : le nombre de participants aux ateliers du mois. « masqué » : "
          "moins de %(k)s personnes, ou un nombre caché pour qu'un petit nombre ne puisse pas "
          "être retrouvé par soustraction. Les mêmes chiffres sont dans le tableau qui suit.", k=k),
        [Series(_("Participants"))],
        [Group(audiences[a], (current[f"attendance_{a}"],),
               (people_text(current[f"attendance_{a}"]),)) for a in AUDIENCES],
    )
    basis = current["busiest_kind_basis"] or "used"
    ranked = sorted(((kind, current[f"{basis}_hours_{kind}"]) for kind in MACHINE_KINDS),
                    key=lambda item: -item[1])
    ranked = [item for item in ranked if item[1] > 0]
    kinds_chart = bar_chart(
        f"{chart_prefix}-kinds", _("Machines les plus utilisées, %(month)s", month=month_label(last)),
        (_("Une barre par type de machine : les heures d'utilisation du mois, la plus longue en "
           "haut.") if basis == "used" else
         _("Une barre par type de machine : les heures réservées du mois (les machines n'ont pas "
           "transmis leur utilisation), la plus longue en haut."))
        + " " + _("Les mêmes chiffres sont dans le tableau qui suit."),
        [Series(_("Heures"))],
        [Group(kinds[kind], (h,), (hours_text(h),)) for kind, h in ranked],
    ) if ranked else ""
    return {"hours": hours, "audience": people, "kinds": kinds_chart, "kinds_ranked": ranked,
            "kinds_basis": basis}


async def _dashboard(request: Request, site_slug: str | None, month_text: str | None) -> Template:
    now = datetime.now(UTC)
    viewer = request.state.viewer
    all_sites = await queries.sites()
    site = await services.find_site(site_slug, all_sites) if site_slug else None
    newest = services.last_month(now).next()  # the current month, still running
    selected = services.parse_month("month", month_text) if month_text else services.last_month(now)
    if selected > newest:
        selected = newest
    first = selected
    for _i in range(MONTHS_SHOWN - 1):
        first = first.previous()
    k = min_count()
    series: list[tuple[Month, dict[str, Any]]] = []
    site_records: list[dict[str, Any]] = []
    # closed months may be kept (kept_months.py): as long as nothing in them has changed
    async for result in services.months(first, selected, now, all_sites):
        # the network page is exact for admins only (an animator's own site row too would be
        # exact without the « chiffres exacts » label); a site page is exact for its staff
        published = services.publish(result, k, viewer if site or viewer.is_admin else None)
        if site is None:
            series.append((result.month, published.network))
            site_records = published.sites
        else:
            series.append((result.month, services.selected(published, site)[0]))
    current = series[-1][1]
    offered, month = [], newest
    for _i in range(MONTHS_OFFERED):
        offered.append((str(month), month_label(month)))
        month = month.previous()
    return page(
        request, "figures_dashboard.html", site=site, sites=all_sites, selected=selected,
        selected_label=month_label(selected), offered=offered, k=k, current=current,
        series=[(month_label(m, "MMM yyyy"), r) for m, r in series],
        site_records=site_records, exact=services.sees_exact(viewer, site.id if site else None),
        charts=_charts(series, current, k, "site" if site else "network"),
        audiences=audience_names(), kinds=kind_names(),
        people=people_text, hours=hours_text, rate=rate_text, number=number,
        is_running=selected == newest,
    )


def _export_error(request: Request, refused: Refused, as_json: bool) -> Response:
    if as_json:
        return refused_handler(request, refused)
    return Response(refusal_text(request, refused) + "\n", status_code=refused.status,
                    media_type="text/plain")


async def _export_period(site: str, start: str, end: str) -> tuple[Month, Month, SiteRow | None]:
    now = datetime.now(UTC)
    first, last = services.period(start or None, end or None, now)
    chosen = await services.find_site(site) if site else None
    return first, last, chosen


def _file_name(first: Month, last: Month, site: SiteRow | None, extension: str) -> str:
    scope = site.slug if site else "reseau"
    return f"fabbooking-{scope}-{first}-{last}.{extension}"


FEED_METHODS = [HttpMethod.GET, HttpMethod.HEAD]


def _ics(body: bytes, cache: str, file_stem: str) -> Response:
    return Response(body, media_type="text/calendar", headers={
        "Cache-Control": cache,
        "Content-Disposition": f'inline; filename="{file_stem}.ics"',
    })


class FiguresPages(Controller):
    include_in_schema = False

    @get("/figures")
    async def network(self, request: Request, month: FromQuery[str | None] = None) -> Template:
        return await _dashboard(request, None, month)

    @get("/figures/{site_slug:str}")
    async def site(self, request: Request, site_slug: FromPath[str], month: FromQuery[str | None] = None) -> Template:
        return await _dashboard(request, site_slug, month)

    @get("/open-data")
    async def open_data(self, request: Request) -> Template:
        now = datetime.now(UTC)
        first, last = services.period(None, None, now)
        return page(request, "figures_open_data.html", sites=await queries.sites(), k=min_count(),
                    first=str(first), last=str(last), licence=services.LICENCE,
                    licence_url=services.LICENCE_URL, max_months=services.MAX_MONTHS,
                    columns=column_docs())

    @get("/open-data/monthly.csv")
    async def monthly_csv(self, request: Request, site: FromQuery[str] = "",
                          start: str = FROM, end: str = TO) -> Response:
        try:
            first, last, chosen = await _export_period(site, start, end)
        except Refused as refused:
            return _export_error(request, refused, as_json=False)
        return Stream(services.csv_export(first, last, chosen, datetime.now(UTC)),
                      media_type="text/csv", headers={
                          "Content-Disposition": f'attachment; filename="{_file_name(first, last, chosen, "csv")}"',
                          "Cache-Control": EXPORT_CACHE})

    @get("/open-data/monthly.json")
    async def monthly_json(self, request: Request, site: FromQuery[str] = "",
                           start: str = FROM, end: str = TO) -> Response:
        try:
            first, last, chosen = await _export_period(site, start, end)
        except Refused as refused:
            return _export_error(request, refused, as_json=True)
        return Stream(services.json_export(first, last, chosen, datetime.now(UTC), feeds.public_url()),
                      media_type="application/json", headers={
                          "Content-Disposition": f'inline; filename="{_file_name(first, last, chosen, "json")}"',
                          "Cache-Control": EXPORT_CACHE})

    # --- iCalendar feeds (calendar clients probe them with HEAD) -------------------------

    @route("/calendar/machines/{feed:str}", http_method=FEED_METHODS)
    async def machine_feed(self, feed: FromPath[str]) -> Response:
        stem, dot, extension = feed.partition(".")
        # ASCII digits only (« ² » or « ٣ » pass str.isdigit), and small enough to be an id:
        # a 20-digit number is not a machine, not a database overflow (500)
        if extension != "ics" or not MACHINE_ID.fullmatch(stem) or not is_id(int(stem)):
            raise Refused.not_found(f"l'agenda « {feed} »", f"the calendar “{feed}”")
        machine_id = int(stem)
        _name, body = await feeds.machine_feed(machine_id, datetime.now(UTC))
        return _ics(body, FEED_CACHE, f"machine-{machine_id}")

    @route("/calendar/sites/{feed:str}", http_method=FEED_METHODS)
    async def site_feed(self, feed: FromPath[str]) -> Response:
        slug, _dot, extension = feed.rpartition(".")
        if extension != "ics" or not slug:
            raise Refused.not_found(f"l'agenda « {feed} »", f"the calendar “{feed}”")
        _name, body = await feeds.site_feed(slug, datetime.now(UTC))
        return _ics(body, FEED_CACHE, slug)

    @route("/calendar/me/{feed:str}", http_method=FEED_METHODS)
    async def my_feed(self, feed: FromPath[str]) -> Response:
        token, _dot, extension = feed.rpartition(".")
        if extension != "ics":
            raise Refused.not_found("cet agenda", "this calendar")
        _name, body = await feeds.my_feed(token, datetime.now(UTC))
        response = _ics(body, "private, max-age=300", "mes-reservations")
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @get("/me/calendar")
    async def my_calendar(self, request: Request, done: FromQuery[str] = "") -> Template:
        viewer = signed_in(request)
        feed = await feeds.feed_of(viewer.account_id)
        url = feeds.feed_url(feed["token"]) if feed else ""
        response = page(request, "figures_my_calendar.html", feed=feed, url=url,
                        webcal=url.replace("https://", "webcal://").replace("http://", "webcal://"),
                        done=done, days_back=feeds.DAYS_BACK, days_ahead=feeds.DAYS_AHEAD)
        # the page shows the secret address: no copy in the browser's or a proxy's cache
        # (makers often use the fab space's shared computers), and no Referer from it
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @post("/me/calendar")
    async def renew_calendar(self, request: Request) -> Response:
        viewer = signed_in(request)
        had = await feeds.feed_of(viewer.account_id)
        await feeds.renew(viewer.account_id)
        return go(request, f"/me/calendar?done={'renewed' if had else 'created'}")

    @post("/me/calendar/delete")
    async def delete_calendar(self, request: Request) -> Response:
        viewer = signed_in(request)
        await feeds.forget(viewer.account_id)
        return go(request, "/me/calendar?done=deleted")
