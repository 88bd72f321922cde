"""Every route of the app, found by walking its route table (so a new page or endpoint is
covered without touching this file), fed hostile input on both databases: ids past the
database's integers, negative and zero ids, NUL characters, very long and oddly encoded
text, impossible dates and pages in the query, and bodies of the wrong shape — anonymously,
as a maker and as a network admin. Nothing may answer 5xx, and nothing may be written.

The API's operations also go through schemathesis (tests/test_api_schema_conformance.py);
this walk adds the pages, the feeds and the forms, which have no schema."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute

from fabbooking.accounts.tables import Account
from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Machine, Site
from fabbooking.projects.tables import Project
from tests.web_helpers import browser_login, csrf

pytestmark = pytest.mark.anyio

# What a path parameter is given, by its type: each value is either refused (4xx) or names
# nothing (404); none may break the server.
HOSTILE_INTS = ["2147483648", "9223372036854775808", "-1", "0"]
HOSTILE_TEXTS = ["%00", "a" * 300, "%C3%28", "..%2F..%2Fetc", "%E2%80%AE", "%20"]
# Query values every page or endpoint might read: dates, weeks, pages, searches, ids.
HOSTILE_QUERY = ("week=9999-99&day=0000-00-00&start=2026-13-45T25:61:00Z&end=x&page=-1&past_page=999999999999"
                 "&q=%00%27%22%3Cscript%3E&machine=2147483648&site=%00&kind=..&period=midnight"
                 "&maker=9223372036854775808&next=//evil.example&lang=xx&month=2026-00&from=1&to=0")
SKIPPED = ("/admin", "/static", "/schema")  # Piccolo Admin's own app; files; the API's docs page


def _routes(app) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path template, parameter types) of every route the app serves."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(SKIPPED) or route.path.endswith("/logout"):
            continue  # (logging out would walk the rest of the routes anonymously)
        types = {name: param.type.__name__ for name, param in route.path_parameters.items()}
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            found.append((method, route.path, types))
    return found


def _addresses(path: str, types: dict[str, str]) -> list[str]:
    """The path with each parameter replaced by hostile values, one parameter at a time
    (the others get a well-formed value)."""
    # the others name nothing that exists, so no request can change a real row
    plain = {name: ("999999" if kind == "int" else "nowhere") for name, kind in types.items()}

    def fill(values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)

    if not types:
        return [path]
    addresses = []
    for name, kind in types.items():
        for value in HOSTILE_INTS if kind == "int" else HOSTILE_TEXTS:
            addresses.append(fill({**plain, name: value}))
    return addresses


async def _counts() -> tuple[int, ...]:
    return (await Booking.count(), await Account.count(), await Site.count(), await Machine.count(),
            await Project.count())


async def _walk(client, app, headers: dict[str, str], form_token: str | None) -> list[str]:
    failures = []
    for method, path, types in _routes(app):
        for address in _addresses(path, types):
            url = f"{address}?{HOSTILE_QUERY}" if method == "GET" else address
            if method == "GET":
                response = await client.get(url, headers=headers)
            elif address.startswith("/api/"):
                response = await client.request(method, url, headers={**headers, "Content-Type": "application/json"},
                                                content=b'{"name": "\\u0000", "id": 9223372036854775808, '
                                                        b'"start": "2026-02-30T25:00:00", "x": [[[[]]]]}',
                                                )
            else:
                form = {"_csrf_token": form_token or "", "name": "\x00" * 3, "slug": "a" * 300,
                        "start": "2026-02-30T25:00", "day": "0000-00-00", "machine_id": "2147483648",
                        "password": "\x00", "username": "é" * 500}
                response = await client.request(method, url, headers=headers, data=form)
            if response.status_code >= 500:
                failures.append(f"{method} {url[:160]} -> {response.status_code}")
    return failures


@pytest.mark.parametrize("who", ["anonymous", "maker", "admin"])
async def test_no_route_breaks_on_hostile_input_nor_writes_anything(client, app, world, who):
    before = await _counts()
    headers: dict[str, str] = {}
    form_token = None
    if who != "anonymous":
        await browser_login(client, who)  # the pages as a browser sees them
        form_token = await csrf(client)
        headers = {"Origin": "http://testserver"}
    failures = await _walk(client, app, headers, form_token)
    assert not failures, "\n".join(failures)
    assert await _counts() == before, "a refused request wrote something"
