"""Figures read from the database equal hand-computed values (SQLite and PostgreSQL), and
what leaves the app — open data, API, dashboards — names nobody."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.accounts.tables import Account
from fabbooking.figures import queries, services
from fabbooking.figures.monthly import Month, month_range
from fabbooking.figures.records import COLUMNS
from fabbooking.usage.tables import UsageSession
from tests.figures_support import NOW, load_march
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio
MARCH, FEBRUARY, APRIL = Month(2026, 3), Month(2026, 2), Month(2026, 4)
PERSONAL = ("SECRET_", "Maker", "Newbie", "Animator", "Stranger")


@pytest.fixture
async def march(world):
    await load_march(world)
    await Account.update({Account.email: "SECRET_MAIL@example.org"}).where(Account.id == world.ids["maker"])
    return world


def assert_nothing_personal(text: str) -> None:
    """No name, username, e-mail, note, title or file name, and no column that could carry an
    id of a person, a booking or a session."""
    for secret in PERSONAL:  # SECRET_NOTE, SECRET_NAME, SECRET_TITLE, SECRET_FILE, SECRET_MAIL…
        assert secret not in text
    for username in ("maker", "newbie", "animator", "stranger", "admin"):
        assert not re.search(rf"\b{username}\b", text), username
    assert not any(c == "id" or c.endswith(("_id", "_ids")) or "user" in c or "booking_" in c
                   or "name" in c and c != "site_name" for c in COLUMNS)


async def test_march_at_atelier_equals_the_hand_computed_figures(march):
    result = await services.month_figures(MARCH, NOW)
    atelier = result.site(march.ids["atelier"])
    # makers' bookings starting in March, not cancelled: B1, B2, B3 (no-show), B5 = 4
    assert atelier.bookings == 4
    assert atelier.bookings_cancelled == 1  # B4
    # booked: B1 2 + B2 1.5 + B3 1 + B5 1 (23:00–24:00 of 31 March) + workshop hold 2 = 7.5 h
    assert atelier.booked_hours == pytest.approx(7.5)
    # used: S1 2 (01:30 → 04:30 local across DST is 2 h) + S2 0.5 (00:00–00:30 on 1 March)
    #       + S3 0.5 + S4 1.5 = 4.5 h
    assert atelier.used_hours == pytest.approx(4.5)
    assert atelier.sessions == 3  # S1, S3, S4 start in March; S2 started in February
    # no-show rate: 1 no-show / (3 confirmed over + 1 no-show) = 0.25
    assert (atelier.no_shows, atelier.due_bookings, atelier.no_show_rate) == (1, 4, 0.25)
    # walk-ins: S3 starts in March (1); hours S2's 0.5 in March + S3 0.5 = 1 h
    assert (atelier.walk_in_sessions, atelier.walk_in_hours) == (1, pytest.approx(1.0))
    # workshops done: W1 and W2 (W3 planned, W4 cancelled)
    assert atelier.workshops_held == 2
    # attendance: children 5, adults 1, seniors 4 = 10; first-timers 2 + 1 + 0 = 3
    assert atelier.attendance_total == 10 and atelier.first_timers_total == 3
    assert (atelier.attendance["children"], atelier.attendance["adults"], atelier.attendance["seniors"]) == (5, 1, 4)
    assert atelier.registrations == 3  # W1 2 (one cancelled left out) + W3 1; W4 cancelled
    assert atelier.distinct_makers == 2  # maker (B1, B5) and newbie (B2); no-show B3 not counted
    assert (atelier.projects_started, atelier.projects_finished) == (1, 2)  # done 31 March 23:30 Paris
    # busiest kinds by used hours: printer 2 + 0.5 + 1.5 = 4 h, laser 0.5 h
    assert atelier.busiest_kinds == [("3d_printer", pytest.approx(4.0)), ("laser_cutter", pytest.approx(0.5))]
    assert atelier.busiest_basis == "used"


async def test_the_network_sums_its_sites_but_counts_a_maker_once(march):
    result = await services.month_figures(MARCH, NOW)
    ailleurs = result.site(march.ids["ailleurs"])
    network = result.network
    assert (ailleurs.bookings, ailleurs.booked_hours, ailleurs.distinct_makers) == (1, 1.0, 1)
    assert ailleurs.busiest_basis == "booked"  # no machine reported its use there
    assert network.bookings == 4 + 1
    assert network.booked_hours == pytest.approx(7.5 + 1)
    assert network.workshops_held == 2 + 1
    assert network.attendance_total == 10 + 2
    # maker booked at both sites: 2 at atelier + 1 at ailleurs, but 2 people in the network
    assert network.distinct_makers == 2
    # projects: 1 at atelier + 1 without a site (counts for the network only)
    assert network.projects_started == 2
    assert network.projects_finished == 2


async def test_a_session_still_running_counts_only_once_it_has_ended(march):
    began = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    await UsageSession.insert(UsageSession(
        key="running", machine=march.ids["printer"], job_key="running", started_at=began, walk_in=True))
    atelier = (await services.month_figures(MARCH, NOW)).site(march.ids["atelier"])
    assert (atelier.sessions, atelier.walk_in_sessions, atelier.used_hours) == (3, 1, pytest.approx(4.5))
    await UsageSession.update({UsageSession.ended_at: began + timedelta(hours=1), UsageSession.duration_s: 3600.0,
                               UsageSession.outcome: "completed"}).where(UsageSession.key == "running")
    atelier = (await services.month_figures(MARCH, NOW)).site(march.ids["atelier"])
    assert (atelier.sessions, atelier.walk_in_sessions, atelier.used_hours) == (4, 2, pytest.approx(5.5))


async def test_neighbouring_months_get_their_share(march):
    february = (await services.month_figures(FEBRUARY, NOW)).site(march.ids["atelier"])
    april = (await services.month_figures(APRIL, NOW)).site(march.ids["atelier"])
    # S2 started 28 February 23:30: half an hour in February, a walk-in counted there
    assert (february.used_hours, february.sessions, february.walk_in_sessions) == (pytest.approx(0.5), 1, 1)
    # B5 ends 1 April 01:00: one hour booked in April, but the booking counts in March
    assert (april.booked_hours, april.bookings) == (pytest.approx(1.0), 0)
    ailleurs = (await services.month_figures(APRIL, NOW)).site(march.ids["ailleurs"])
    assert ailleurs.projects_started == 1  # created 1 April 00:30 Paris (31 March in UTC)


async def test_open_data_csv_has_the_documented_columns_suppressed_counts_and_nothing_personal(client, march):
    response = await client.get("/open-data/monthly.csv?from=2026-03&to=2026-03")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-cache"  # a late change shows at once, everywhere
    text = response.text
    assert_nothing_personal(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == COLUMNS
    assert [(r["level"], r["site"]) for r in rows] == [("network", ""), ("site", "ailleurs"), ("site", "atelier")]
    network, ailleurs, atelier = rows
    # k = 3. atelier: adults 1 hidden; seniors 4 hidden too so that 1 is not 10 - 5 - 4;
    # ailleurs' 2 teens hidden, so atelier's total 10 is hidden too (network 12 - 10 = 2)
    assert (atelier["attendance_children"], atelier["attendance_adults"], atelier["attendance_seniors"]) == ("5", "", "")
    assert (atelier["attendance_total"], ailleurs["attendance_total"], network["attendance_total"]) == ("", "", "12")
    assert atelier["attendance_teens"] == "0"  # zero stays zero
    assert (atelier["distinct_makers"], network["distinct_makers"]) == ("", "")  # 2 people each
    # events and hours are never suppressed
    assert (atelier["bookings"], atelier["booked_hours"], atelier["used_hours"]) == ("4", "7.5", "4.5")
    assert (atelier["no_show_rate"], atelier["registrations"], network["workshops_held"]) == ("0.25", "3", "3")


async def test_open_data_json_matches_and_filters_by_site(client, march):
    response = await client.get("/open-data/monthly.json?site=atelier&from=2026-02&to=2026-04")
    assert response.status_code == 200
    body = response.json()
    assert body["licence"].startswith("Licence Ouverte") and body["min_count"] == 3
    assert body["columns"] == list(COLUMNS)
    assert [r["month"] for r in body["rows"]] == ["2026-02", "2026-03", "2026-04"]
    march_row = body["rows"][1]
    assert list(march_row) == list(COLUMNS)
    assert march_row["attendance_total"] is None and march_row["attendance_children"] == 5
    assert_nothing_personal(response.text)


async def test_exports_stream_one_month_at_a_time(march, monkeypatch):
    calls = []
    original = queries.totals

    async def counted(found, now):
        calls.append({b.month for b in found})
        return await original(found, now)

    monkeypatch.setattr(queries, "totals", counted)
    chunks = []
    async for chunk in services.csv_export(Month(2026, 1), Month(2026, 12), None, NOW):
        chunks.append(chunk)
        # a month's rows are read only when its chunk is asked for
        assert len(calls) == len(chunks) - 1
    assert len(chunks) == 1 + 12  # the header, then one chunk per month
    assert calls == [{month} for month in month_range(Month(2026, 1), Month(2026, 12))]


@pytest.mark.parametrize(("query", "status", "words"), [
    ("from=2026-05&to=2026-03", 422, "Inversez-les"),
    ("from=2020-01&to=2026-03", 422, "60 mois au plus"),
    ("from=mars", 422, "comme 2026-03"),
    ("to=2026-13", 422, "comme 2026-03"),
    ("to=0000-01", 422, "comme 2026-03"),
    ("to=9999-12", 422, "comme 2026-03"),
    ("to=%D9%A2%D9%A0%D9%A2%D9%A6-%D9%A0%D9%A1", 422, "comme 2026-03"),  # « ٢٠٢٦-٠١ »
    ("from=2026-1&to=2026-03", 422, "comme 2026-03"),
    ("site=nowhere", 404, "nowhere"),
])
async def test_bad_export_parameters_say_what_to_do(client, world, query, status, words):
    csv_answer = await client.get(f"/open-data/monthly.csv?{query}")
    json_answer = await client.get(f"/open-data/monthly.json?{query}")
    assert csv_answer.status_code == json_answer.status_code == status
    assert words in csv_answer.text and words in json_answer.json()["detail"]
    api_answer = await client.get(f"/api/v1/figures?{query}" if "site" not in query
                                  else "/api/v1/figures/sites/nowhere")
    assert api_answer.status_code == status and api_answer.json()["code"]


async def test_api_gives_exact_counts_to_the_sites_staff_only(client, march):
    url = "/api/v1/figures/sites/atelier?from=2026-03&to=2026-03"
    public = (await client.get(url)).json()
    assert public["exact"] is False and public["rows"][0]["attendance_total"] is None
    staff = (await client.get(url, headers=march.auth("animator"))).json()
    assert staff["exact"] is True and staff["rows"][0]["attendance_total"] == 10
    other = (await client.get(url, headers=march.auth("stranger"))).json()
    assert other["exact"] is False and other["rows"][0]["attendance_total"] is None
    network = (await client.get("/api/v1/figures?from=2026-03&to=2026-03", headers=march.auth("admin"))).json()
    assert network["rows"][0]["distinct_makers"] == 2
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/figures/sites/{slug}" in schema["paths"]


async def test_dashboard_hides_small_counts_from_the_public_and_shows_them_to_staff(client, march):
    public = await client.get("/figures/atelier?month=2026-03")
    assert public.status_code == 200
    html = public.text
    # « masqué », never « < 3 »: secondary suppression hides counts of 3 or more too
    assert "masqué" in html and "&lt; 3" not in html and "Chiffres exacts" not in html
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "<table" in html and 'scope="row"' in html
    assert ' style="' not in html
    for secret in PERSONAL:  # no note, title, e-mail nor display name of anybody
        assert secret not in html
    await browser_login(client, "animator")
    staff = (await client.get("/figures/atelier?month=2026-03")).text
    assert "Chiffres exacts, réservés à l'équipe" in staff
    assert "<td>10</td>" in staff  # participants in March, exactly
    client.cookies.clear()
    await browser_login(client, "stranger")
    other = (await client.get("/figures/atelier?month=2026-03")).text
    assert "masqué" in other and "Chiffres exacts" not in other


async def test_network_dashboard_links_every_site_and_defaults_to_last_month(client, march):
    response = await client.get("/figures")
    assert response.status_code == 200
    assert 'href="/figures/atelier?month=' in response.text and 'href="/figures/ailleurs?month=' in response.text
    assert 'selected>' in response.text
    assert (await client.get("/figures/nowhere")).status_code == 404
    assert (await client.get("/figures?month=13-2026")).status_code == 422


async def test_a_booking_written_into_the_month_shown_is_on_the_next_page(client, march):
    # every month is read afresh or kept only while unchanged: tests/test_figures_kept.py
    from tests.figures_support import booking

    first = await client.get("/figures/ailleurs?month=2026-03")
    assert "<td>1</td>" in first.text  # one booking at ailleurs in March
    await booking(march.ids["far_printer"], march.ids["newbie"], "2026-03-06 10:00", "2026-03-06 11:00")
    second = await client.get("/figures/ailleurs?month=2026-03")
    tiles = second.text.split('class="figures-tiles"')[1].split("</ul>")[0]
    assert '<span class="figures-number">2</span> réservations' in tiles


async def test_network_page_is_exact_for_admins_only(client, march):
    await browser_login(client, "animator")
    animator = (await client.get("/figures?month=2026-03")).text
    assert "Chiffres exacts" not in animator and "<td>masqué</td>" in animator
    client.cookies.clear()
    await browser_login(client, "admin")
    admin = (await client.get("/figures?month=2026-03")).text
    assert "Chiffres exacts, réservés à l'équipe" in admin and "<td>masqué</td>" not in admin


async def test_the_threshold_comes_from_the_environment(client, march, monkeypatch):
    monkeypatch.setenv("FABBOOKING_OPEN_DATA_MIN_COUNT", "6")
    rows = list(csv.DictReader(io.StringIO(
        (await client.get("/open-data/monthly.csv?site=atelier&from=2026-03&to=2026-03")).text)))
    # k = 6: children 5 is now hidden too; registrations 3 as well
    assert (rows[0]["attendance_children"], rows[0]["registrations"]) == ("", "")
    body = (await client.get("/open-data/monthly.json?from=2026-03&to=2026-03")).json()
    assert body["min_count"] == 6
    assert "inférieur à 6" in (await client.get("/figures/atelier?month=2026-03")).text


async def test_a_site_name_a_spreadsheet_would_run_stays_text_in_the_csv(client, march):
    """OWASP's CSV injection: a cell starting with =, +, -, @, a tab or a carriage return is a
    formula to a spreadsheet; it gets an apostrophe, and the JSON keeps the name as it is."""
    from fabbooking.network.tables import Site

    name = '=HYPERLINK("http://exemple.invalid","cliquez")'
    await Site.update({Site.name: name}).where(Site.id == march.ids["atelier"])
    text = (await client.get("/open-data/monthly.csv?site=atelier&from=2026-03&to=2026-03")).text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["site_name"] == "'" + name and row["bookings"] == "4"
    body = (await client.get("/open-data/monthly.json?site=atelier&from=2026-03&to=2026-03")).json()
    assert body["rows"][0]["site_name"] == name
