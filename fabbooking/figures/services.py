"""The figures read from the database, one month at a time, and what each viewer may see.

A month's figures are always computed for every site at once: the network total needs
them, and suppression (see suppression.py) must hide the same cells whoever asks and for
whichever site. The database adds the rows up (queries.py): a few statements read any
number of months, and only a few totals per site and month reach Python; the exports still
read and send one month after the other, so a long period streams. Closed months are kept
per process while nothing in them changes (kept_months.py), for every caller.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused
from fabbooking.figures import kept_months, queries
from fabbooking.figures.monthly import (
    DEFAULT_TIMEZONE,
    Month,
    MonthResult,
    SiteRow,
    bounds,
    month_range,
    month_result,
)
from fabbooking.figures.records import COLUMNS, csv_value, record
from fabbooking.figures.suppression import min_count, suppress_month
from fabbooking.network.services import site_not_found, zone

MAX_MONTHS = 60  # five years in one request
LICENCE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


def last_month(now: datetime) -> Month:
    return Month.of(now, zone(DEFAULT_TIMEZONE)).previous()


def parse_month(name: str, text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError:
        raise Refused("figures_bad_month", field=name, value=text[:20]) from None


def period(first_text: str | None, last_text: str | None, now: datetime,
           default_months: int = 12) -> tuple[Month, Month]:
    """The months asked for (« from » and « to », both included, YYYY-MM). Without « to »:
    last month; without « from »: ``default_months`` months ending at « to »."""
    last = parse_month("to", last_text) if last_text else last_month(now)
    if first_text:
        first = parse_month("from", first_text)
    else:
        first = last
        for _ in range(default_months - 1):
            first = first.previous()
    if first > last:
        raise Refused("figures_month_order", first=str(first), last=str(last))
    count = last.index() - first.index() + 1
    if count > MAX_MONTHS:
        raise Refused("figures_period_too_long", months=count, max=MAX_MONTHS)
    return first, last


async def find_site(slug: str, sites: list[SiteRow] | None = None) -> SiteRow:
    for site in sites if sites is not None else await queries.sites():
        if site.slug == slug:
            return site
    raise site_not_found(slug)


async def read_months(wanted: list[Month], now: datetime, sites: list[SiteRow]) -> list[MonthResult]:
    """Every site's figures for each month in ``wanted``, and the network's, computed: six
    statements."""
    totals = await queries.totals(bounds(wanted, sites), now)
    return [month_result(month, sites, totals) for month in wanted]


async def month_figures(month: Month, now: datetime, sites: list[SiteRow] | None = None) -> MonthResult:
    """Every site's figures for ``month``, and the network's."""
    [result] = [result async for result in months(month, month, now, sites)]
    return result


async def months(first: Month, last: Month, now: datetime, sites: list[SiteRow] | None = None,
                 per_read: int | None = None) -> AsyncIterator[MonthResult]:
    """The months from ``first`` to ``last``, one after the other. ``per_read`` months are read
    by one set of statements (all of them by default; the exports read one at a time, so
    that they stream). Closed months come from kept_months while nothing in them has
    changed; their stamps are read first, in one statement (none when no month is closed)."""
    sites = sites if sites is not None else await queries.sites()
    wanted = month_range(first, last)
    stamps = await kept_months.stamps(wanted, sites, now)
    step = per_read or len(wanted)
    for at in range(0, len(wanted), step):
        chunk = wanted[at:at + step]
        known = {m: hit for m in chunk if (hit := kept_months.kept(m, sites, now, stamps)) is not None}
        missing = [m for m in chunk if m not in known]
        read = dict(zip(missing, await read_months(missing, now, sites), strict=True)) if missing else {}
        for month in chunk:
            if month in known:
                yield known[month]
                continue
            kept_months.keep(month, sites, stamps, read[month])
            yield read[month]


# --- who sees what -----------------------------------------------------------------------

def sees_exact(viewer: Viewer | None, site_id: int | None) -> bool:
    """Exact people counts: the site's animators and admins for a site; admins for the
    network. Everyone else sees small counts suppressed."""
    if viewer is None or not viewer.is_authenticated:
        return False
    return viewer.is_admin if site_id is None else viewer.is_staff_of(site_id)


@dataclass
class Published:
    """One month as it may be shown: site records and the network record."""

    month: Month
    sites: list[dict[str, Any]]
    network: dict[str, Any]


def publish(result: MonthResult, k: int, viewer: Viewer | None = None) -> Published:
    """The month's records, people counts suppressed except where ``viewer`` may see them."""
    exact_sites = [record(f) for f in result.sites]
    exact_network = record(result.network)
    if k not in result.suppressed:
        result.suppressed[k] = suppress_month(exact_sites, exact_network, k)
    public_sites, public_network = result.suppressed[k]
    sites, network = [dict(r) for r in public_sites], dict(public_network)
    for index, figures in enumerate(result.sites):
        if figures.site and sees_exact(viewer, figures.site.id):
            sites[index] = exact_sites[index]
    if sees_exact(viewer, None):
        network = exact_network
    return Published(result.month, sites, network)


def selected(published: Published, site: SiteRow | None) -> list[dict[str, Any]]:
    """The records of one site, or the network's then every site's."""
    if site is None:
        return [published.network, *published.sites]
    return [r for r in published.sites if r["site"] == site.slug]


# --- streamed exports --------------------------------------------------------------------

async def csv_export(first: Month, last: Month, site: SiteRow | None, now: datetime,
                     k: int | None = None) -> AsyncIterator[str]:
    """The open-data CSV, written row by row with the csv module and sent month by month."""
    k = min_count() if k is None else k
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    async for result in months(first, last, now, per_read=1):
        buffer.seek(0)
        buffer.truncate()
        for row in selected(publish(result, k), site):
            writer.writerow([csv_value(row[c]) for c in COLUMNS])
        yield buffer.getvalue()


async def json_export(first: Month, last: Month, site: SiteRow | None, now: datetime,
                      base_url: str, k: int | None = None) -> AsyncIterator[bytes]:
    """The open-data JSON: a header, then its rows, sent month by month."""
    k = min_count() if k is None else k
    head = {
        "licence": LICENCE, "licence_url": LICENCE_URL,
        "documentation": f"{base_url}/open-data#colonnes",
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "from": str(first), "to": str(last), "site": site.slug if site else None,
        "min_count": k, "columns": list(COLUMNS),
    }
    encoded = msgspec.json.encode(head)
    yield encoded[:-1] + b',"rows":['
    first_row = True
    async for result in months(first, last, now, per_read=1):
        chunk = []
        for row in selected(publish(result, k), site):
            chunk.append(msgspec.json.encode({c: row[c] for c in COLUMNS}))
        if chunk:
            yield (b"" if first_row else b",") + b",".join(chunk)
            first_row = False
    yield b"]}"
