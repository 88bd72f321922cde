"""Statement budgets: how many SQL statements a page or an endpoint may issue. The budget
holds whatever the number of sites, machines or bookings — each test measures, then grows
the network and measures again — so an N+1 query fails here, not in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.accounts.services import issue_token
from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Site
from tests.conftest import PARIS, PASSWORD, World, booking_body, make_machine, make_site
from tests.statements import counting_statements
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio


def _next_week() -> str:
    start = datetime.now(PARIS).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=7)
    return f"start={start.isoformat()}&end={(start + timedelta(days=7)).isoformat()}".replace("+", "%2B")


def forget_kept_pages(client) -> None:
    """Every page rendered anew, who is looking and the references read again: what a first
    request costs (otherwise it would depend on what the requests before it left kept)."""
    from fabbooking.references import kept
    from fabbooking.web.page_cache import PageCache

    kept.forget_all()

    cache = client._transport.app.asgi_handler.app
    if isinstance(cache, PageCache):
        cache.shelf.clear()


async def _statements(client, path: str, **kwargs) -> int:
    forget_kept_pages(client)
    with counting_statements() as seen:
        response = await client.get(path, **kwargs)
    assert response.status_code == 200, response.text
    return len(seen)


async def _grow(world: World, sites: int = 3, machines: int = 4) -> None:
    """More sites, more machines, more bookings at the measured places."""
    grown = world.ids["grown"] = world.ids.get("grown", 0) + 1
    for n in range(sites):
        site = await make_site(f"quartier-{grown}-{n}")
        for m in range(machines):
            await make_machine(site, f"machine-{n}-{m}", training_id=world.ids["print"])
    for m in range(machines):
        await make_machine(world.ids["atelier"], f"extra-{grown}-{m}", training_id=world.ids["print"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await Booking.insert(*[
        Booking(machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
                start_at=now - timedelta(days=5 * grown, hours=2 * n + 2),
                end_at=now - timedelta(days=5 * grown, hours=2 * n + 1))
        for n in range(40)])


# A kept page (fabbooking/web/page_cache.py) first reads the data version: one statement more
# when the page is rendered, and the only one when it is served again (tests/test_page_cache.py).
# The references (a machine's place, the trainings someone holds, who a token names;
# fabbooking/references/kept.py) cost their counters first, then their reads: the budgets
# count them read (test_kept_references_cost_their_counters_alone counts them kept).
ANONYMOUS_BUDGETS = {
    "/": 6,  # data version, sites, their calendars, machines, live states, bookings from now on
    "/sites/atelier": 8,  # data version, site, calendar, machines, live states, bookings from now on, workshops and their places
    "/schedule": 5,  # data version, sites, their calendars, machines with their rules, the day's bookings
    "/schedule?day=tomorrow&period=afternoon&kind=3d_printer&neighbourhood=": 5,
    "/machines/{printer}": 6,  # data version, counters, machine with its site, calendar, live state, busy times
    "/machines/{printer}/availability": 5,  # data version, counters, machine with its site and rules, calendar, busy times
    "/sites/atelier/availability": 4,
    "/machines": 2,  # machines with their sites, the sites' rules
    "/metrics": 0,  # counters in memory; the pool's gauges read the engine, not the database
    "/readyz": 1,  # SELECT 1
    "/signup": 0,
    "/password/forgotten": 0,
}


def _url(path: str, world: World) -> str:
    path = path.format(**world.ids)
    if path.endswith("availability"):
        return f"/api/v1{path}?{_next_week()}"
    return f"/api/v1{path}" if path == "/machines" else path  # pages, /schedule included


@pytest.mark.parametrize("path", list(ANONYMOUS_BUDGETS))
async def test_anonymous_pages_and_endpoints_keep_their_statement_budget(client, world, path):
    before = await _statements(client, _url(path, world))
    await _grow(world)
    after = await _statements(client, _url(path, world))
    assert (before, after) == (before, before), f"{path}: {before} statements, then {after} with more of everything"
    assert after <= ANONYMOUS_BUDGETS[path], f"{path}: {after} statements, budget {ANONYMOUS_BUDGETS[path]}"


async def test_a_bearer_token_is_one_statement(client, world):
    """Recognising the caller of the API costs one statement (token, account and the sites
    they work at, joined), not one each."""
    counts = []
    for _ in range(2):  # read, then kept while no account, token or staff row is written
        with counting_statements() as seen:
            response = await client.get("/api/v1/users/me", headers=world.auth("animator"))
        assert response.status_code == 200
        counts.append((len([s for s in seen.sql if "api_token" in s]), len(seen)))
    # the references' counters, the token; then the profile: account, sites, trainings
    assert counts[0][0] == 1 and counts[0][1] <= 5, counts
    assert counts[1] == (0, counts[0][1] - 1), counts  # kept: the counters alone


async def test_a_makers_pages_keep_their_statement_budget(client, world):
    await browser_login(client, "maker")
    budgets = {"/": 7, f"/machines/{world.ids['printer']}": 7,  # the kept pages: the data version too
               "/me/bookings": 6,  # data version, who, the bookings (2), the sites' timezones, the slots I wait for
               f"/me/waiting-list/new?machine={world.ids['printer']}": 2,  # who, the machine
               "/schedule?trained=1": 8,  # the schedule: data version, who, then 4 as above, and their trainings (2)
               "/me/notifications": 4}  # who, the address, whether it is proved, the muted kinds
    before = {path: await _statements(client, path) for path in budgets}
    await _grow(world)
    after = {path: await _statements(client, path) for path in budgets}
    assert after == before, "a page issues more statements as the network grows"
    assert not {p: (after[p], budget) for p, budget in budgets.items() if after[p] > budget}, after


async def test_my_bookings_api_keeps_its_statement_budget(client, world):
    headers = world.auth("maker")
    before = await _statements(client, "/api/v1/bookings?mine=true", headers=headers)
    await _grow(world)
    after = await _statements(client, "/api/v1/bookings?mine=true", headers=headers)
    assert before == after <= 5  # data version (a kept answer), counters, who, upcoming, the latest past


async def test_the_waiting_list_keeps_its_statement_budget(client, world):
    """Asking: who, the machine, then in the transaction how many I wait for and the insert,
    and the row to answer with. Listing: who, my wishes. A cancellation nobody waits for
    costs one statement more (the look-up of who waits)."""
    headers = world.auth("maker")
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    counts = []
    for _round in range(2):
        forget_kept_pages(client)
        with counting_statements() as seen:
            response = await client.post("/api/v1/waiting-list", headers=headers, json={
                "machine_id": world.ids["printer"], "day": day, "start": "09:00", "end": "12:00"})
        assert response.status_code == 201, response.text
        forget_kept_pages(client)
        with counting_statements() as listing:
            assert (await client.get("/api/v1/waiting-list", headers=headers)).status_code == 200
        counts.append((len(seen), len(listing)))
        await _grow(world, sites=1, machines=1)
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 7 and counts[0][1] <= 3, counts
    booking = await client.post("/api/v1/bookings", headers=headers, json=booking_body(world.ids["printer"], 5))
    forget_kept_pages(client)
    with counting_statements() as seen:
        response = await client.post(f"/api/v1/bookings/{booking.json()['id']}/cancel", headers=headers)
    assert response.status_code == 200, response.text
    assert len(seen) <= 9, seen.sql


async def test_booking_keeps_its_statement_budget(client, world):
    """Read: the counters, who, the machine and its rules, the calendar, their trainings
    (under that one reading of the counters), then in the transaction (PostgreSQL's locks go
    with its BEGIN, which is not counted) the busy times with the quota (one statement), the
    insert (which answers with the maker's names and whether they proved an e-mail address:
    the confirmation costs a maker with none nothing more). The answer is built from these,
    not read back."""
    counts = []
    for days_ahead in (2, 3):
        forget_kept_pages(client)
        with counting_statements() as seen:
            response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                         json=booking_body(world.ids["printer"], days_ahead))
        assert response.status_code == 201, response.text
        counts.append(len(seen))
        await _grow(world, sites=1, machines=1)
    assert counts[0] == counts[1] == 7, counts
    forget_kept_pages(client)
    with counting_statements() as seen:
        response = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"], 4),
                                     headers={**world.auth("maker"), "Idempotency-Key": "k"})
    assert response.status_code == 201, response.text
    # with a key: find it, claim it, the counters again (behind the write lock), keep the answer
    assert len(seen) == counts[0] + 4, seen.sql


async def test_kept_references_cost_their_counters_alone(client, world):
    """The next booking, with nothing written to the machines, sites, trainings or accounts
    in between: the token, the machine's place and calendar and the maker's trainings are
    kept (references/kept.py): one statement (the counters, read once for the token, the
    machine and the trainings) instead of four reads."""
    counts = []
    for days_ahead in (2, 3):
        with counting_statements() as seen:
            response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                         json=booking_body(world.ids["printer"], days_ahead))
        assert response.status_code == 201, response.text
        counts.append(len(seen))
    assert counts[1] == counts[0] - 4, counts
    assert counts[1] == 3, counts


async def test_logging_in_and_listing_tokens_keep_their_statement_budget(client, world):
    """A login: the throttle (lock, count, record), the account, last login, forgetting the
    try, the session, then the profile; the token list: who, then the tokens."""
    with counting_statements() as seen:
        response = await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD})
    assert response.status_code == 200
    assert len(seen) <= 11, str(seen)
    for _ in range(3):
        await issue_token(world.ids["maker"])
    before = await _statements(client, "/api/v1/auth/tokens", headers=world.auth("maker"))
    for _ in range(10):
        await issue_token(world.ids["maker"])
    after = await _statements(client, "/api/v1/auth/tokens", headers=world.auth("maker"))
    assert before == after <= 3  # counters, who, the tokens


# Each desk page is a kept one: the data version first.
DESK_BUDGETS = {
    # who, the site, its machines and their live states, the site again and today's bookings,
    # maintenance due, walk-ins
    "/desk/atelier": 9,
    "/desk/atelier/person?q=mak&maker={maker}": 7,  # who, site, person, search, people, trainings
    # who, site, person, machines, the counters, the machine's place and calendar, its busy times that day
    "/desk/atelier/book?maker={maker}&machine={printer}": 9,
    "/desk/atelier/training?maker={maker}": 6,  # who, site, person, trainings, theirs
    "/desk/atelier/machines": 5,  # who, site, machines, live states
    "/desk/atelier/closures": 4,  # who, site, its calendar
}


async def test_the_desk_pages_keep_their_statement_budget(client, world):
    """Each page of the desk reads what it shows, in the same number of statements however
    many sites, machines and bookings the network has."""
    await browser_login(client, "animator")
    paths = {template: template.format(**world.ids) for template in DESK_BUDGETS}
    before = {t: await _statements(client, path) for t, path in paths.items()}
    await _grow(world)
    after = {t: await _statements(client, path) for t, path in paths.items()}
    assert after == before, "a desk page issues more statements as the network grows"
    over = {t: (after[t], budget) for t, budget in DESK_BUDGETS.items() if after[t] > budget}
    assert not over, (over, after)


async def test_signing_up_and_a_password_reset_keep_their_statement_budget(client, world):
    """A sign-up: the address's limit (lock, count, record), the name, its look-alikes, the
    account in a transaction, pruning old tries, the session, then the profile (3). A reset
    request: the address's limit, the account, its recent links, the new link, pruning old
    links and old tries; the link's page: one; using it: the link checked, then in one
    transaction the link spent, the password, the other links, the sessions, the failed
    logins."""
    import re

    from fabbooking.accounts.tables import Account

    with counting_statements() as seen:
        response = await client.post("/api/v1/auth/signup", json={"username": "nadia", "password": "bonjour123",
                                                                  "accept_rules": True})
    assert response.status_code == 201, response.text
    assert len(seen) <= 12, seen.sql  # PostgreSQL: one more, the advisory lock
    client.cookies.clear()
    await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])
    with counting_statements() as seen:
        response = await client.post("/api/v1/auth/password-reset", json={"who": "maker"})
    assert response.status_code == 202 and len(seen) <= 10, seen.sql  # with the message: its reader, the outbox
    from fabbooking.notifications.tables import Outbox

    body = await Outbox.select(Outbox.text_body).where(Outbox.kind == "password_reset").first()
    token = re.search(r"/password/reset/([\w-]+)", body["text_body"]).group(1)
    assert await _statements(client, f"/password/reset/{token}") <= 1
    with counting_statements() as seen:
        response = await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new": "nouveau-mdp"})
    assert response.status_code == 204 and len(seen) <= 7, seen.sql


async def test_my_data_and_my_account_deletion_keep_their_statement_budget(client, world):
    """The export: who, then nine statements whatever the amount of data; deleting: who, the
    password's throttle, then a fixed number (the workshops to leave aside)."""
    headers = world.auth("maker")
    before = await _statements(client, "/api/v1/users/me/export", headers=headers)
    await _grow(world)
    after = await _statements(client, "/api/v1/users/me/export", headers=headers)
    assert before == after <= 11  # counters, who, then nine
    forget_kept_pages(client)
    with counting_statements() as seen:
        response = await client.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=headers)
    assert response.status_code == 204 and len(seen) <= 26, seen.sql


async def test_the_outbox_page_keeps_its_statement_budget(client, world):
    """Who, then one query for the last messages, however many there are."""
    from fabbooking.notifications.tables import Outbox

    await browser_login(client, "admin")
    before = await _statements(client, "/manage/outbox")
    await Outbox.insert(*[Outbox(account=world.ids["maker"], address="m@example.org", kind="booking_confirmed",
                                 subject="s", text_body="t", html_body="h") for _ in range(30)])
    after = await _statements(client, "/manage/outbox")
    assert before == after <= 2


def _series_body(weeks: int, machine_ids: list[int], hour: int = 14, **extra) -> dict:
    begin = (datetime.now(PARIS) + timedelta(days=3)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return {"site": "atelier", "title": "Atelier du mercredi", "start": begin.isoformat(),
            "end": (begin + timedelta(hours=2)).isoformat(), "frequency": "weekly",
            "until": (begin + timedelta(weeks=weeks - 1)).date().isoformat(),
            "machine_ids": machine_ids, **extra}


async def test_a_recurring_workshops_preview_and_page_keep_their_statement_budget(client, world):
    """The preview: who, the site, the team and the machines named (three), every machine's
    rules and calendar (two), then the bookings around every date at once (one) — the same
    for 4 dates as for 52, however many bookings the machines have. Planning: the preview,
    then the checks again and one multi-row insert per table. The series' page: who, the
    site, the series, its workshops."""
    await Site.update({Site.max_days_ahead: 366}).where(Site.id == world.ids["atelier"])
    machines = [world.ids["printer"], world.ids["laser"]]
    counts = []
    for weeks in (4, 52):
        forget_kept_pages(client)
        with counting_statements() as seen:
            response = await client.post("/api/v1/workshops/series", headers=world.auth("animator"),
                                         json=_series_body(weeks, machines, dry_run=True))
        assert response.status_code == 200, response.text
        assert len(response.json()["dates"]) == weeks
        counts.append(len(seen))
        await _grow(world, sites=1, machines=1)
    assert counts[0] == counts[1] <= 9, counts  # and the counters, first
    written = []
    for weeks, hour in ((4, 10), (52, 17)):
        forget_kept_pages(client)
        with counting_statements() as seen:
            planned = await client.post("/api/v1/workshops/series", headers=world.auth("animator"),
                                        json=_series_body(weeks, machines, hour=hour))
        assert planned.status_code == 201, planned.text
        assert len(planned.json()["dates"]) == weeks
        written.append(len(seen))
    # planning: the preview, then one multi-row insert per table, whatever the number of dates
    assert written[0] == written[1] <= 22, written
    await browser_login(client, "animator")
    page = f"/desk/atelier/workshops/series/{planned.json()['id']}"
    assert await _statements(client, page) <= 4  # session, the site, the series, its workshops
