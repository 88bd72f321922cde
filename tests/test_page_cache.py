"""Kept pages (fabbooking.web.page_cache): served again only while nothing they show has
changed — a booking, a cancellation, a machine's state, whoever made it and from wherever,
is on the very next page; nobody gets another person's page or CSRF token."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta

import asyncpg
import pytest
import time_machine

from fabbooking.web.page_cache import PageCache
from tests.conftest import PARIS, booking_body
from tests.statements import counting_statements
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio
TOKEN_IN_PAGE = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')


def kept(app) -> PageCache:
    cache = app.asgi_handler.app
    assert isinstance(cache, PageCache), "the page cache is on by default"
    return cache


async def hit(app, client, url: str, **kwargs):
    """GET ``url``, and say whether the page came from the cache."""
    before = kept(app).hits
    response = await client.get(url, **kwargs)
    assert response.status_code == 200, response.text
    return response, kept(app).hits == before + 1


async def kept_hit(app, client, url: str, **kwargs):
    """GET ``url`` until it comes from the cache: the page and the statements its hit ran.
    PostgreSQL's snapshot is the whole server's, so any write to any database there (the
    suite's other processes write all the time) drops the kept pages too; a hit needs two
    requests with no commit between them anywhere, which may take a while under load."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with counting_statements() as seen:
            response, from_cache = await hit(app, client, url, **kwargs)
        if from_cache:
            return response, seen
    raise AssertionError(f"{url} never came from the cache in 60 s")


async def fewest_statements_of_a_hit(app, client, url: str, **kwargs) -> int:
    """The fewest statements of three hits: who is looking is read once per data version, so
    a hit that is the first of a new version (another writer, the minute turning) reads it,
    but not three in a row."""
    counts = []
    for _ in range(3):
        _, seen = await kept_hit(app, client, url, **kwargs)
        counts.append(len(seen))
    return min(counts)


def machine_state(machine_id: int, status: str) -> str:
    """The SQL that puts a machine in ``status``, for a connection of our own."""
    return f"UPDATE machine SET status = '{status}' WHERE id = {machine_id}"


async def test_a_kept_page_is_served_again_in_one_statement(client, app, world):
    url = f"/machines/{world.ids['printer']}"
    first, from_cache = await hit(app, client, url)
    assert not from_cache
    again, seen = await kept_hit(app, client, url)
    assert len(seen) == 1, seen  # the data version, nothing else
    assert TOKEN_IN_PAGE.sub("", again.text) == TOKEN_IN_PAGE.sub("", first.text)
    await browser_login(client, "maker")
    await hit(app, client, "/me/bookings")
    # the data version only: who is looking was read once for this data version
    assert await fewest_statements_of_a_hit(app, client, "/me/bookings") == 1


async def test_a_booking_and_its_cancellation_are_on_the_very_next_page(client, app, world):
    await browser_login(client, "maker")
    await hit(app, client, "/me/bookings")
    page, _ = await kept_hit(app, client, "/me/bookings")
    assert "Printer" not in page.text.split("Passées et annulées")[0]
    booked = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                               json=booking_body(world.ids["printer"], 2))
    assert booked.status_code == 201, booked.text
    page, from_cache = await hit(app, client, "/me/bookings")
    upcoming = page.text.split("Passées et annulées")[0]
    assert not from_cache and "Printer" in upcoming
    await kept_hit(app, client, "/me/bookings")
    cancelled = await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=world.auth("maker"))
    assert cancelled.status_code == 200, cancelled.text
    page, from_cache = await hit(app, client, "/me/bookings")
    assert not from_cache and "Printer" not in page.text.split("Passées et annulées")[0]


async def test_a_change_made_by_another_connection_or_process_is_on_the_very_next_page(client, app, world, db):
    url = f"/machines/{world.ids['printer']}"
    await hit(app, client, url)
    await kept_hit(app, client, url)
    if db.kind == "sqlite":
        path = db.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as other:  # another connection of this process
            other.execute(machine_state(world.ids["printer"], "maintenance"))
    else:
        other = await asyncpg.connect(db.url)
        await other.execute(machine_state(world.ids["printer"], "maintenance"))
        await other.close()
    page, from_cache = await hit(app, client, url)
    assert not from_cache and "En maintenance" in page.text
    await kept_hit(app, client, url)
    if db.kind == "sqlite":
        script = (f"import sqlite3; c = sqlite3.connect({path!r}); "
                  f"c.execute({machine_state(world.ids['printer'], 'out_of_order')!r}); c.commit()")
    else:
        script = ("import asyncio, asyncpg\nasync def main():\n"
                  f"    c = await asyncpg.connect({db.url!r})\n"
                  f"    await c.execute({machine_state(world.ids['printer'], 'out_of_order')!r})\n"
                  "asyncio.run(main())")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)  # another process
    page, from_cache = await hit(app, client, url)
    assert not from_cache and "En panne" in page.text and "En maintenance" not in page.text


async def test_two_people_never_share_a_page(app, world, client):
    import httpx

    async def person(who: str | None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        browser = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        if who:
            await browser_login(browser, who)
        return browser

    animator, maker, nobody = await person("animator"), await person("maker"), await person(None)
    try:
        desk_link = "Ouvrir l'accueil de ce lieu"
        for _round in range(2):  # the second round is served from the cache
            assert desk_link in (await animator.get("/sites/atelier")).text
            assert desk_link not in (await maker.get("/sites/atelier")).text
            assert desk_link not in (await nobody.get("/sites/atelier")).text
        booked = await maker.post("/api/v1/bookings", headers=world.auth("maker"),
                                  json=booking_body(world.ids["printer"], 2))
        assert booked.status_code == 201
        for _round in range(2):
            assert "Printer" in (await maker.get("/me/bookings")).text.split("Passées et annulées")[0]
            assert "Printer" not in (await animator.get("/me/bookings")).text.split("Passées et annulées")[0]
        assert kept(app).hits >= 1
    finally:
        for browser in (animator, maker, nobody):
            await browser.aclose()


async def test_every_visitor_gets_their_own_csrf_token(client, app, world):
    """A visitor without the cookie gets a new token (and its cookie), one with it gets
    theirs — from a kept page too, compressed or not."""
    import httpx

    rendered = await client.get("/sites/atelier")  # a new visitor: Litestar's CSRF middleware sets the cookie
    set_by_litestar = rendered.headers["set-cookie"].replace(client.cookies.get("fabbooking_csrf"), "")

    tokens = set()
    for encoding in ("gzip", "identity", "gzip"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as fresh:
            await kept_hit(app, client, "/sites/atelier", headers={"Accept-Encoding": encoding})
            before = kept(app).hits
            response = await fresh.get("/sites/atelier", headers={"Accept-Encoding": encoding})
            if kept(app).hits == before:  # PostgreSQL: the cluster moved meanwhile; once more
                fresh.cookies.clear()
                await kept_hit(app, client, "/sites/atelier", headers={"Accept-Encoding": encoding})
                response = await fresh.get("/sites/atelier", headers={"Accept-Encoding": encoding})
            cookie = fresh.cookies.get("fabbooking_csrf")
            assert response.headers["set-cookie"].replace(cookie, "") == set_by_litestar
            assert cookie and set(TOKEN_IN_PAGE.findall(response.text)) == {cookie}
            assert response.headers.get("content-encoding") == (encoding if encoding == "gzip" else None)
            tokens.add(cookie)
            again = await fresh.get("/sites/atelier", headers={"Accept-Encoding": encoding})
            assert set(TOKEN_IN_PAGE.findall(again.text)) == {cookie} and "set-cookie" not in again.headers
            # the token works: a form of that page is accepted
            switched = await fresh.post("/language", data={"_csrf_token": cookie, "lang": "en", "next": "/"})
            assert switched.status_code == 303
    assert len(tokens) == 3


async def test_a_note_after_a_form_shows_once(client, app, world):
    """« C'est réservé ! » rides in the address after the form; the page without it does not say it."""
    await browser_login(client, "maker")
    await hit(app, client, "/me/bookings")
    await kept_hit(app, client, "/me/bookings")
    begin = booking_body(world.ids["printer"], 2)["start"]
    form = await client.get(f"/machines/{world.ids['printer']}/book", params={"start": begin})
    token = client.cookies.get("fabbooking_csrf")
    done = await client.post(f"/machines/{world.ids['printer']}/book",
                             data={"_csrf_token": token, "start": begin, "minutes": "60", "cell": begin})
    assert done.status_code == 303 and form.status_code == 200, done.text
    shown = await client.get(done.headers["location"].split("#")[0])
    assert "C'est réservé" in shown.text and "Printer" in shown.text
    page, _ = await hit(app, client, "/me/bookings")
    assert "C'est réservé" not in page.text and "Printer" in page.text.split("Passées et annulées")[0]


async def test_a_new_minute_shows_what_time_changed(client, app, world):
    """A booking that ends at 11:00 is to come at 10:59 and past at 11:00, from a kept page or not."""
    day = datetime.now(PARIS).date() + timedelta(days=1)
    with time_machine.travel(datetime.combine(day, datetime.min.time(), PARIS).replace(hour=8), tick=True):
        booked = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                   json=booking_body(world.ids["printer"], 0, "10:00"))
        assert booked.status_code == 201, booked.text
        await browser_login(client, "maker")
    def at(hour: int, minute: int, second: int) -> datetime:
        return datetime.combine(day, datetime.min.time(), PARIS).replace(hour=hour, minute=minute, second=second)

    with time_machine.travel(at(10, 59, 10), tick=False) as clock:
        page, _ = await hit(app, client, "/me/bookings")
        assert "Printer" in page.text.split("Passées et annulées")[0]
        clock.move_to(at(10, 59, 50))
        page, _ = await kept_hit(app, client, "/me/bookings")
        assert "Printer" in page.text.split("Passées et annulées")[0]
        clock.move_to(at(11, 0, 5))
        page, from_cache = await hit(app, client, "/me/bookings")
        assert not from_cache and "Printer" not in page.text.split("Passées et annulées")[0]
        assert "Printer" in page.text.split("Passées et annulées")[1]


async def test_the_cache_can_be_turned_off(monkeypatch):
    from fabbooking.app import create_app

    monkeypatch.setenv("FABBOOKING_PAGE_CACHE", "off")
    assert not isinstance(create_app(use_pool=False, run_usage=False).asgi_handler.app, PageCache)


async def test_visitors_asking_a_page_being_rendered_wait_for_it(client, app, world, db):
    """When the minute turns or something changed, the visitors of the same page (8 at once
    here; 32 under the bench's load) make one rendering, not one each; each still gets their
    own token."""
    import asyncio

    import httpx

    async def visit() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as fresh:
            return await fresh.get("/sites/atelier")

    misses = kept(app).misses
    pages = await asyncio.gather(*(visit() for _ in range(8)))
    assert all(page.status_code == 200 for page in pages)
    assert len({TOKEN_IN_PAGE.sub("", page.text) for page in pages}) == 1
    assert len({page.cookies["fabbooking_csrf"] for page in pages}) == 8
    if db.kind == "sqlite":  # (PostgreSQL's cluster may move meanwhile)
        assert kept(app).misses == misses + 1


def test_kept_pages_are_bounded_and_only_the_last_versions_kept():
    from fabbooking.web.page_cache import GENERATIONS_KEPT, Page, Shelf

    def page(size: int) -> Page:
        return Page("/", (), (b"x" * size,), (b"",), size)

    shelf = Shelf(max_pages=3, max_bytes=1000)
    shelf.drawer("v1")
    for n in range(5):
        shelf.keep("v1", n, page(100))
    assert shelf.pages == 3 and set(shelf.drawer("v1").pages) == {2, 3, 4}  # the oldest went first
    shelf.keep("v1", "big", page(900))
    assert shelf.bytes <= 1000 and "big" in shelf.drawer("v1").pages
    for version in range(GENERATIONS_KEPT + 1):
        shelf.drawer(f"w{version}")
    assert shelf.pages == 0 and shelf.bytes == 0  # v1's pages went with their version
    shelf.keep("v1", "late", page(10))  # rendered under a version no longer kept: dropped
    assert shelf.pages == 0


def test_a_kept_page_is_compressed_with_each_visitors_token():
    import zlib

    from fabbooking.web.page_cache import Page, _deflated, gzipped

    pieces = (b"<html>" * 200 + b'value="', b'"><form value="', b'">' + b"</p>" * 300)
    page = Page("/", (), pieces, _deflated(pieces), 0)
    for token in (b"a" * 128, b"0123456789abcdef" * 8):
        body = token.join(pieces)
        assert zlib.decompress(gzipped(page, token, body), 16 + zlib.MAX_WBITS) == body


# --- JSON answers of the API: a machine's availability, « my bookings » with a token --------

def availability_url(machine_id: int) -> str:
    start = datetime.now(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
    return (f"/api/v1/machines/{machine_id}/availability?start={start.isoformat().replace('+', '%2B')}"
            f"&end={(start + timedelta(days=7)).isoformat().replace('+', '%2B')}")


MINE = "/api/v1/bookings?mine=true"


async def by_another_connection(db, sql: str) -> None:
    if db.kind == "sqlite":
        with sqlite3.connect(db.url.removeprefix("sqlite:///")) as other:
            other.execute(sql)
    else:
        other = await asyncpg.connect(db.url)
        await other.execute(sql)
        await other.close()


async def test_a_kept_json_answer_is_served_again_in_one_statement_and_sets_no_cookie(client, app, world):
    url = availability_url(world.ids["printer"])
    first, from_cache = await hit(app, client, url)
    assert not from_cache and "set-cookie" not in first.headers
    again, seen = await kept_hit(app, client, url)
    assert len(seen) == 1, seen  # the data version
    assert again.json() == first.json() and "set-cookie" not in again.headers
    assert again.headers["content-type"].startswith("application/json")
    await hit(app, client, MINE, headers=world.auth("maker"))
    mine, _ = await kept_hit(app, client, MINE, headers=world.auth("maker"))
    assert mine.json() == [] and "set-cookie" not in mine.headers
    # the data version only: the token's account was read once for this data version
    assert await fewest_statements_of_a_hit(app, client, MINE, headers=world.auth("maker")) == 1


async def test_a_booking_is_on_the_very_next_availability_and_my_bookings(client, app, world, db):
    url = availability_url(world.ids["printer"])
    for asked, headers in ((url, {}), (MINE, world.auth("maker"))):
        await hit(app, client, asked, headers=headers)
        await kept_hit(app, client, asked, headers=headers)
    booked = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                               json=booking_body(world.ids["printer"], 1))
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    week, from_cache = await hit(app, client, url)
    assert not from_cache and [b["start"] for b in week.json()["busy"]] == [booking["start"]]
    mine, from_cache = await hit(app, client, MINE, headers=world.auth("maker"))
    assert not from_cache and [(b["id"], b["status"]) for b in mine.json()] == [(booking["id"], "confirmed")]
    for asked, headers in ((url, {}), (MINE, world.auth("maker"))):
        await kept_hit(app, client, asked, headers=headers)

    # cancelled, then booked again, by another connection
    await by_another_connection(db, f"UPDATE booking SET status = 'cancelled' WHERE id = {booking['id']}")
    week, from_cache = await hit(app, client, url)
    assert not from_cache and week.json()["busy"] == []
    mine, _ = await hit(app, client, MINE, headers=world.auth("maker"))
    assert [(b["id"], b["status"]) for b in mine.json()] == [(booking["id"], "cancelled")]
    for asked, headers in ((url, {}), (MINE, world.auth("maker"))):
        await kept_hit(app, client, asked, headers=headers)
    await by_another_connection(db, (
        "INSERT INTO booking (machine, maker, booked_by, start_at, end_at, status, note, purpose, created_at) "
        "SELECT machine, maker, booked_by, start_at, end_at, 'confirmed', 'again', purpose, created_at "
        f"FROM booking WHERE id = {booking['id']}"))
    week, from_cache = await hit(app, client, url)
    assert not from_cache and [b["start"] for b in week.json()["busy"]] == [booking["start"]]
    mine, _ = await hit(app, client, MINE, headers=world.auth("maker"))
    assert sorted(b["status"] for b in mine.json()) == ["cancelled", "confirmed"]


async def test_two_makers_tokens_never_share_an_answer(client, app, world):
    booked = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                               json=booking_body(world.ids["printer"], 2))
    assert booked.status_code == 201, booked.text
    for _round in range(3):  # the later rounds are served from the cache
        assert [b["id"] for b in (await client.get(MINE, headers=world.auth("maker"))).json()] == [booked.json()["id"]]
        assert (await client.get(MINE, headers=world.auth("newbie"))).json() == []
        assert (await client.get(MINE)).status_code == 401
    assert kept(app).hits >= 2


async def test_a_revoked_or_expired_token_is_refused_on_the_very_next_request(client, app, world):
    from fabbooking.accounts.services import issue_token_with_id

    token_id, token = await issue_token_with_id(world.ids["maker"], "revoked soon")
    bearer = {"Authorization": f"Bearer {token}"}
    await hit(app, client, MINE, headers=bearer)
    await kept_hit(app, client, MINE, headers=bearer)
    revoked = await client.delete(f"/api/v1/auth/tokens/{token_id}", headers=bearer)
    assert revoked.status_code == 204, revoked.text
    assert (await client.get(MINE, headers=bearer)).status_code == 401

    # an expiry is time, not a write: within the same minute and data version
    minute = datetime.now(PARIS).replace(second=0, microsecond=0) + timedelta(minutes=5)
    _, token = await issue_token_with_id(world.ids["maker"], "expires soon", minute + timedelta(seconds=30))
    bearer = {"Authorization": f"Bearer {token}"}
    with time_machine.travel(minute + timedelta(seconds=10), tick=False) as clock:
        await hit(app, client, MINE, headers=bearer)
        await kept_hit(app, client, MINE, headers=bearer)
        clock.move_to(minute + timedelta(seconds=40))
        hits = kept(app).hits
        refused = await client.get(MINE, headers=bearer)
        assert refused.status_code == 401 and kept(app).hits == hits


async def test_an_authorization_that_is_not_a_bearer_token_goes_to_the_app(client, app, world):
    await hit(app, client, MINE, headers=world.auth("maker"))
    await kept_hit(app, client, MINE, headers=world.auth("maker"))
    token = world.tokens["maker"]
    for authorization in (f"Basic {token}", f"Bearer{token}", "Bearer ", f"Token {token}"):
        hits = kept(app).hits
        refused = await client.get(MINE, headers={"Authorization": authorization})
        assert refused.status_code == 401, authorization
        assert kept(app).hits == hits


async def test_a_page_asked_with_a_token_is_the_cookies_language_never_the_tokens(client, app, world):
    """Pages do not read API tokens: one asked with a token is rendered as for anyone, in the
    language of its cookie, never kept under the token's account and its language."""
    from fabbooking.accounts.tables import Account

    await Account.update({Account.language: "en"}).where(Account.id == world.ids["maker"])
    url = f"/machines/{world.ids['printer']}"
    token = world.auth("maker")
    hits = kept(app).hits
    english = await client.get(url, headers={**token, "Accept-Language": "en"})
    english = await client.get(url, headers={**token, "Accept-Language": "en"})
    assert kept(app).hits == hits, "a page asked with a token is never served from the kept ones"
    french = await client.get(url, headers={**token, "Accept-Language": "en", "Cookie": "lang=fr"})
    assert english.status_code == french.status_code == 200
    assert '<html lang="en"' in english.text and '<html lang="fr"' in french.text
