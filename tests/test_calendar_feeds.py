"""iCalendar feeds: a machine's and a site's bookings without names, public workshops, and a
maker's own bookings at a secret address that can be renewed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from fabbooking.bookings.tables import Booking, CalendarFeed
from fabbooking.workshops.tables import Workshop, WorkshopMachine
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio
NAMES = ("Maker", "Newbie", "Animator", "maker", "newbie", "SECRET")


async def _booking(machine: int, maker: int, days: float, hours: float = 1, status: str = "confirmed",
                   purpose: str = "maker") -> int:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    rows = await Booking.insert(Booking(
        machine=machine, maker=maker, booked_by=maker, start_at=start, status=status, purpose=purpose,
        end_at=start + timedelta(hours=hours), note="SECRET note")).returning(Booking.id)
    return rows[0]["id"]


async def _workshop(site: int, days: float, title: str, public: bool, machine: int | None = None,
                    booking: int | None = None, status: str = "planned") -> int:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    rows = await Workshop.insert(Workshop(
        site=site, title=title, starts_at=start, ends_at=start + timedelta(hours=2), public=public,
        status=status, notes="SECRET notes")).returning(Workshop.id)
    if machine:
        await WorkshopMachine.insert(WorkshopMachine(workshop=rows[0]["id"], machine=machine, booking=booking))
    return rows[0]["id"]


@pytest.fixture
async def calendar_world(world):
    ids = world.ids
    ids["b_maker"] = await _booking(ids["printer"], ids["maker"], 2)
    ids["b_newbie"] = await _booking(ids["printer"], ids["newbie"], 3)
    ids["b_cancelled"] = await _booking(ids["printer"], ids["maker"], 4, status="cancelled")
    ids["b_old"] = await _booking(ids["printer"], ids["maker"], -60)  # out of the window
    ids["b_far"] = await _booking(ids["far_printer"], ids["maker"], 2)
    hold = await _booking(ids["printer"], ids["animator"], 5, hours=2, purpose="workshop")
    ids["w_public"] = await _workshop(ids["atelier"], 5, "Imprimer son porte-clés", True, ids["printer"], hold)
    private_hold = await _booking(ids["printer"], ids["animator"], 6, hours=2, purpose="workshop")
    ids["b_private_hold"] = private_hold
    ids["w_private"] = await _workshop(ids["atelier"], 6, "SECRET école privée", False, ids["printer"], private_hold)
    ids["w_cancelled"] = await _workshop(ids["atelier"], 7, "Atelier annulé", True, status="cancelled")
    ids["w_site"] = await _workshop(ids["atelier"], 8, "Couture numérique", True)
    return world


def _parse(response) -> tuple[Calendar, list]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "max-age" in response.headers["cache-control"]
    calendar = Calendar.from_ical(response.content)
    return calendar, list(calendar.walk("VEVENT"))


def _uids(events) -> set[str]:
    return {str(e["UID"]) for e in events}


async def test_machine_feed_shows_bookings_without_names_and_public_workshops(client, calendar_world):
    ids = calendar_world.ids
    calendar, events = _parse(await client.get(f"/calendar/machines/{ids['printer']}.ics"))
    assert str(calendar["X-WR-CALNAME"]).startswith("Printer")
    assert _uids(events) == {
        f"booking-{ids['b_maker']}@127.0.0.1", f"booking-{ids['b_newbie']}@127.0.0.1",
        f"booking-{ids['b_private_hold']}@127.0.0.1",  # a private workshop's hold: just « Réservé »
        f"workshop-{ids['w_public']}@127.0.0.1",  # its hold is shown once, as the workshop
    }
    summaries = sorted(str(e["SUMMARY"]) for e in events)
    assert summaries == ["Atelier : Imprimer son porte-clés", "Réservé", "Réservé", "Réservé"]
    text = (await client.get(f"/calendar/machines/{ids['printer']}.ics")).text
    for name in NAMES:
        assert name not in text
    assert "ATTENDEE" not in text and "ORGANIZER" not in text
    assert re.search(r"DTSTART:\d{8}T\d{6}Z", text) and "DTSTAMP:" in text  # UTC times
    assert all(e.decoded("DTSTART").tzinfo is not None for e in events)


async def test_site_feed_covers_its_machines_and_its_public_workshops(client, calendar_world):
    ids = calendar_world.ids
    calendar, events = _parse(await client.get("/calendar/sites/atelier.ics"))
    assert str(calendar["X-WR-CALNAME"]) == "Atelier"
    assert f"booking-{ids['b_far']}@127.0.0.1" not in _uids(events)  # another site's machine
    assert f"workshop-{ids['w_site']}@127.0.0.1" in _uids(events)
    assert f"workshop-{ids['w_cancelled']}@127.0.0.1" not in _uids(events)
    assert f"workshop-{ids['w_private']}@127.0.0.1" not in _uids(events)
    assert "Réservé — Printer" in {str(e["SUMMARY"]) for e in events}
    text = (await client.get("/calendar/sites/atelier.ics")).text
    for name in NAMES:
        assert name not in text


@pytest.mark.parametrize("path", ["/calendar/machines/999.ics", "/calendar/machines/1.ical",
                                  "/calendar/sites/nowhere.ics", "/calendar/me/nope.ics",
                                  "/calendar/me/" + "x" * 43 + ".ics"])
async def test_unknown_feeds_are_not_found(client, world, path):
    assert (await client.get(path)).status_code == 404


async def test_private_feed_shows_only_my_bookings_and_renewing_retires_the_old_address(client, calendar_world):
    ids = calendar_world.ids
    assert (await client.get("/me/calendar")).status_code == 303  # log in first
    await browser_login(client, "maker")
    page = await client.get("/me/calendar")
    assert "Créer mon adresse d'agenda" in page.text
    created = await submit(client, "/me/calendar", {}, page="/me/calendar")
    assert created.status_code == 303 and created.headers["location"] == "/me/calendar?done=created"
    first = (await CalendarFeed.select().where(CalendarFeed.account == ids["maker"]).first())["token"]
    page = (await client.get("/me/calendar?done=created")).text
    assert f"/calendar/me/{first}.ics" in page
    client.cookies.clear()  # the feed needs no session: the address is the key
    _, events = _parse(await client.get(f"/calendar/me/{first}.ics"))
    assert _uids(events) == {f"booking-{ids['b_maker']}@127.0.0.1", f"booking-{ids['b_far']}@127.0.0.1"}
    feed = await client.get(f"/calendar/me/{first}.ics")
    assert "SECRET" not in feed.text and feed.headers["cache-control"].startswith("private")

    await browser_login(client, "maker")
    renewed = await submit(client, "/me/calendar", {}, page="/me/calendar")
    assert renewed.headers["location"] == "/me/calendar?done=renewed"
    second = (await CalendarFeed.select().where(CalendarFeed.account == ids["maker"]).first())["token"]
    assert second != first and len(second) >= 43
    assert (await client.get(f"/calendar/me/{first}.ics")).status_code == 404
    assert (await client.get(f"/calendar/me/{second}.ics")).status_code == 200

    deleted = await submit(client, "/me/calendar/delete", {}, page="/me/calendar")
    assert deleted.headers["location"] == "/me/calendar?done=deleted"
    assert (await client.get(f"/calendar/me/{second}.ics")).status_code == 404


async def test_renewing_needs_the_form_token(client, world):
    await browser_login(client, "maker")
    assert (await client.post("/me/calendar", data={})).status_code == 403
    assert not await CalendarFeed.exists().where(CalendarFeed.account == world.ids["maker"])


async def test_pages_link_the_feeds(client, world):
    machine = (await client.get(f"/machines/{world.ids['printer']}")).text
    assert f'href="/calendar/machines/{world.ids["printer"]}.ics"' in machine
    assert 'href="/calendar/sites/atelier.ics"' in (await client.get("/sites/atelier")).text
    await browser_login(client, "maker")
    assert 'href="/me/calendar"' in (await client.get("/me/bookings")).text


@pytest.mark.parametrize("stem", ["²³", "٣", "99999999999999999999", "9223372036854775808", "-1", "1e3", " 1"])
async def test_odd_machine_numbers_are_not_found_rather_than_a_server_error(client, world, stem):
    # « ² » and « ٣ » pass str.isdigit(); a 20-digit number overflows both databases' integers
    assert (await client.get(f"/calendar/machines/{stem}.ics")).status_code == 404


async def test_every_feed_is_strict_icalendar(client, calendar_world):
    ids = calendar_world.ids
    await _workshop(ids["atelier"], 9, "Découpe et gravure " * 6 + "\r\nX-INJECT:1;,\\", True, ids["printer"])
    await browser_login(client, "maker")
    await submit(client, "/me/calendar", {}, page="/me/calendar")
    token = (await CalendarFeed.select().where(CalendarFeed.account == ids["maker"]).first())["token"]
    for path in (f"/calendar/machines/{ids['printer']}.ics", "/calendar/sites/atelier.ics",
                 f"/calendar/me/{token}.ics"):
        body = (await client.get(path)).content
        assert body.endswith(b"\r\n") and b"\r\nX-INJECT" not in body
        lines = body.split(b"\r\n")[:-1]
        assert all(b"\n" not in line and len(line) <= 75 for line in lines), path  # folded, in octets
        _, events = _parse(await client.get(path))
        assert events, path
        for event in events:
            assert {"UID", "DTSTAMP", "DTSTART", "DTEND"} <= set(event), path
            assert all(event[p].dt.utcoffset() == timedelta(0) for p in ("DTSTAMP", "DTSTART", "DTEND"))
        text = body.decode().replace("\r\n ", "")
        assert all(v.endswith("Z") for v in re.findall(r"^DT(?:START|END|STAMP)[:;](.*)\r$", text, re.M))


async def test_a_deactivated_account_calendar_address_stops_working(client, calendar_world):
    from fabbooking.accounts.tables import Account

    maker = calendar_world.ids["maker"]
    await browser_login(client, "maker")
    await submit(client, "/me/calendar", {}, page="/me/calendar")
    token = (await CalendarFeed.select().where(CalendarFeed.account == maker).first())["token"]
    assert (await client.get(f"/calendar/me/{token}.ics")).status_code == 200
    await Account.update({Account.active: False}).where(Account.id == maker)
    assert (await client.get(f"/calendar/me/{token}.ics")).status_code == 404


async def test_the_page_showing_the_secret_address_is_not_cached_nor_referred(client, world):
    await browser_login(client, "maker")
    await submit(client, "/me/calendar", {}, page="/me/calendar")
    page = await client.get("/me/calendar")
    assert "/calendar/me/" in page.text
    assert "no-store" in page.headers["cache-control"]
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_calendar_clients_may_probe_the_feeds_with_head(client, calendar_world):
    """Calendar applications ask with HEAD before they subscribe: the same headers, no body."""
    ids = calendar_world.ids
    for path in (f"/calendar/machines/{ids['printer']}.ics", "/calendar/sites/atelier.ics"):
        probe, full = await client.head(path), await client.get(path)
        assert probe.status_code == 200 and probe.content == b"", path
        assert probe.headers["content-type"] == full.headers["content-type"] == "text/calendar; charset=utf-8"
    assert (await client.head("/calendar/sites/nulle-part.ics")).status_code == 404
