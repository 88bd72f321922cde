"""The network's schedule and the home page's search, through HTTP as a browser without
JavaScript uses them (htmx only asks for the piece)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Machine, Site
from tests.conftest import PARIS, make_machine, make_site
from tests.statements import counting_statements
from tests.web_helpers import browser_login, free_cell_links, submit

pytestmark = pytest.mark.anyio


def in_two_days() -> str:
    """A day whose opening hours (08:00–20:00 in Paris) are all to come, whenever tests run."""
    return (datetime.now(PARIS).date() + timedelta(days=2)).isoformat()


def link_starts(page: str, machine_id: int) -> list[datetime]:
    """The starts of the free links of one machine on a page."""
    starts = []
    for href in free_cell_links(page):
        parts = urlsplit(html_lib.unescape(href))
        if parts.path == f"/machines/{machine_id}/book":
            starts.append(datetime.fromisoformat(parse_qs(parts.query)["start"][0]))
    return starts


async def test_anyone_sees_every_machine_of_the_network_grouped_by_site(client, world):
    response = await client.get(f"/schedule?day={in_two_days()}")
    assert response.status_code == 200 and "HX-Request" in response.headers["vary"]
    page = response.text
    table = page[page.index('<table class="schedule">'):]
    assert table.index("Ailleurs</a>") < table.index("Far-Printer</a>") < table.index("Atelier</a>") < table.index("Laser</a>")
    for machine in ("printer", "laser", "far_printer"):
        starts = link_starts(page, world.ids[machine])
        local_hours = sorted({s.astimezone(PARIS).hour for s in starts})
        assert local_hours == list(range(8, 20)), (machine, local_hours)  # every open hour, in both views
    assert 'href="/login?next=' in page  # anonymous: how to book is said, not a refusal


async def test_a_free_stretch_leads_to_the_booking_form_which_takes_it(client, world):
    await browser_login(client, "maker")
    page = (await client.get(f"/schedule?day={in_two_days()}&kind=3d_printer&site=atelier")).text
    link = next(html_lib.unescape(h) for h in free_cell_links(page) if f"/machines/{world.ids['printer']}/" in h)
    form = await client.get(link)
    assert form.status_code == 200 and "Confirmer la réservation" in form.text
    start = parse_qs(urlsplit(link).query)["start"][0]
    booked = await submit(client, f"/machines/{world.ids['printer']}/book",
                          {"start": start, "minutes": "60", "cell": start}, page=link)
    assert booked.status_code == 303 and booked.headers["location"].startswith("/me/bookings?done=booked")
    booking = await Booking.select().first()
    assert booking["machine"] == world.ids["printer"] and booking["start_at"] == datetime.fromisoformat(start)
    # that hour is now taken: the schedule says so and offers it no more
    again = (await client.get(f"/schedule?day={in_two_days()}&kind=3d_printer&site=atelier")).text
    assert datetime.fromisoformat(start) not in link_starts(again, world.ids["printer"])
    assert "Réservé" in again


async def test_filters_by_kind_site_and_neighbourhood(client, world):
    await Site.update({Site.neighbourhood: "Bellevue"}).where(Site.id == world.ids["ailleurs"])
    day = in_two_days()
    lasers = (await client.get(f"/schedule?day={day}&kind=laser_cutter")).text
    assert link_starts(lasers, world.ids["laser"]) and not link_starts(lasers, world.ids["printer"])
    elsewhere = (await client.get(f"/schedule?day={day}&site=ailleurs")).text
    assert link_starts(elsewhere, world.ids["far_printer"]) and not link_starts(elsewhere, world.ids["printer"])
    bellevue = (await client.get(f"/schedule?day={day}&neighbourhood=Bellevue")).text
    assert link_starts(bellevue, world.ids["far_printer"]) and not link_starts(bellevue, world.ids["laser"])
    assert '<option value="Bellevue" selected>' in bellevue


async def test_i_am_trained_for_it_keeps_only_the_machines_a_maker_may_book(client, world):
    url = f"/schedule?day={in_two_days()}&trained=1"
    anonymous = (await client.get(url)).text  # not signed in: the box is not offered, nothing hidden
    assert 'id="schedule-trained"' not in anonymous and link_starts(anonymous, world.ids["laser"])
    await browser_login(client, "maker")  # 3D printing only
    page = (await client.get(url)).text
    assert 'id="schedule-trained" name="trained" type="checkbox" value="1" checked' in page
    assert link_starts(page, world.ids["printer"]) and link_starts(page, world.ids["far_printer"])
    assert not link_starts(page, world.ids["laser"])


async def test_a_part_of_the_day_keeps_its_hours_only(client, world):
    page = (await client.get(f"/schedule?day={in_two_days()}&period=afternoon")).text
    hours = {s.astimezone(PARIS).hour for s in link_starts(page, world.ids["printer"])}
    assert hours == set(range(12, 18))
    assert "Libre de 12:00 à 18:00" in page and "<th scope=\"col\">11:00</th>" not in page
    evening = (await client.get(f"/schedule?day={in_two_days()}&period=evening")).text
    assert {s.astimezone(PARIS).hour for s in link_starts(evening, world.ids["printer"])} == {18, 19}


async def test_the_day_links_go_one_day_back_and_forth_but_never_into_the_past(client, world):
    today = (await client.get("/schedule?kind=3d_printer")).text
    assert 'id="schedule-previous"' not in today
    tomorrow = (datetime.now(PARIS).date() + timedelta(days=1)).isoformat()
    assert f'href="/schedule?day={tomorrow}&amp;kind=3d_printer"' in today
    later = (await client.get(f"/schedule?day={in_two_days()}&kind=3d_printer")).text
    assert f'id="schedule-previous" class="button secondary" href="/schedule?day={tomorrow}&amp;kind=3d_printer"' in later


async def test_htmx_gets_only_the_schedule_with_the_same_ids(client, world):
    piece = await client.get(f"/schedule?day={in_two_days()}", headers={"HX-Request": "true"})
    assert piece.status_code == 200 and "<html" not in piece.text
    assert piece.text.lstrip().startswith('<div id="schedule">')
    for control in ("schedule-day", "schedule-period", "schedule-kind", "schedule-site", "schedule-next"):
        assert f'id="{control}"' in piece.text


async def test_a_site_closed_that_day_says_so_instead_of_its_machines(client, world):
    from fabbooking.network.tables import Closure

    day = datetime.now(PARIS).date() + timedelta(days=2)
    await Closure.insert(Closure(site=world.ids["ailleurs"], start_date=day, end_date=day, reason="Inventaire"))
    page = (await client.get(f"/schedule?day={day.isoformat()}")).text
    assert "Fermé ce jour-là. Inventaire" in page and not link_starts(page, world.ids["far_printer"])


@pytest.mark.parametrize("query, field", [
    ("day=2026-13-40", "day"), ("day=hier", "day"), ("day=2000-01-01", "day"), ("day=9999-12-31", "day"),
    ("day=２０２６-１２-１０", "day"), ("day=" + "9" * 5000, "day"), ("period=nuit", "period"),
    ("kind=fusée", "kind"), ("site=nulle-part", "site"), ("neighbourhood=Paris", "neighbourhood"),
])
async def test_a_wrong_choice_re_shows_the_form_with_what_to_do(client, world, query, field):
    response = await client.get(f"/schedule?{query}")
    assert response.status_code == 422
    page = response.text
    assert "Rien n'est affiché : corrigez le choix signalé ci-dessous." in page
    assert f'id="schedule-{field}-error"' in page and f'aria-describedby="schedule-{field}-error"' in page
    assert 'id="schedule-filters"' in page and 'class="free"' not in page


async def test_a_wrong_choice_in_english_is_explained_in_english(client, world):
    page = (await client.get("/schedule?day=2000-01-01&lang=en")).text
    assert "This date has passed: choose today or a day to come." in page


async def test_the_schedule_reads_the_whole_network_in_four_statements(client, world):
    with counting_statements() as seen:
        assert (await client.get(f"/schedule?day={in_two_days()}")).status_code == 200
    assert len(seen) == 5 and "data_version" in seen.sql[0], str(seen)  # the page cache's, then four


# --- the home page ------------------------------------------------------------------

async def test_the_home_search_lands_on_the_schedule_filtered(client, world):
    home = (await client.get("/")).text
    form = re.search(r'<form class="home-search" method="get" action="/schedule".*?</form>', home, re.S).group(0)
    assert '<select id="search-kind" name="kind">' in form and '<option value="3d_printer">' in form
    assert '<option value="tomorrow">Demain</option>' in form and '<option value="afternoon">' in form
    page = await client.get("/schedule?kind=3d_printer&day=tomorrow&period=afternoon")
    assert page.status_code == 200
    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    assert f'value="{tomorrow.isoformat()}"' in page.text and '<option value="afternoon" selected>' in page.text
    assert '<option value="3d_printer" selected>' in page.text and "Laser</a>" not in page.text


async def test_home_says_whether_each_machine_can_be_used_now(client, world):
    site = await make_site("toujours", opens="00:00", closes="00:00")  # open round the clock
    booked = await make_machine(site, "occupee")
    await make_machine(site, "libre")
    await make_machine(site, "revisee", status="maintenance")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ends = now + timedelta(hours=2)
    await Booking.insert(Booking(machine=booked, maker=world.ids["maker"], booked_by=world.ids["maker"],
                                 start_at=now - timedelta(minutes=30), end_at=ends))
    page = (await client.get("/")).text
    card = page[page.index("Toujours</a>"):]
    until = ends.astimezone(PARIS).strftime("%H:%M")
    assert re.search(rf"Occupee</a>\s*<span class=\"badge warn\">Réservée jusqu'à {until}</span>", card)
    assert re.search(r"Libre</a>\s*<span class=\"badge ok\">Libre maintenant</span>", card)
    assert re.search(r"Revisee</a>\s*<span class=\"badge warn\">En maintenance</span>", card)


async def test_the_device_connection_shows_only_to_the_sites_team(client, world):
    from tests.usage_helpers import wire_gateway

    site = await make_site("toujours", opens="00:00", closes="00:00")
    machine = await make_machine(site, "connectee")
    await wire_gateway(site, "gw", machine)  # reports nothing yet: offline
    assert "Hors ligne" not in (await client.get("/")).text
    assert "pas de données de la machine" not in (await client.get("/")).text
    await browser_login(client, "admin")
    assert "pas de données de la machine" in (await client.get("/")).text


async def test_home_site_cards_are_one_grid(client, world):
    page = (await client.get("/")).text
    assert page.count('class="cards site-cards"') == 1
    assert page.index("Ailleurs</a>") < page.index("Atelier</a>")
    await Machine.update({Machine.status: "out_of_order"}).where(Machine.id == world.ids["laser"])
    assert 'Laser</a> <span class="badge bad">En panne</span>' in (await client.get("/")).text


async def test_the_site_page_says_the_same_as_the_home_page(client, world):
    from tests.usage_helpers import wire_gateway

    site = await make_site("toujours", opens="00:00", closes="00:00")
    machine = await make_machine(site, "connectee")
    await wire_gateway(site, "gw", machine)
    page = (await client.get("/sites/toujours")).text
    assert "Libre maintenant" in page and "Hors ligne" not in page and "pas de données" not in page
    await browser_login(client, "admin")
    assert "pas de données de la machine" in (await client.get("/sites/toujours")).text
