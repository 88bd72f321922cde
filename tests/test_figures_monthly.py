"""The pure parts of the figures: months in a site's timezone, clipping, the network's sum,
suppression of small counts of people, and the SVG charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from fabbooking.figures.charts import Group, Series, bar_chart, label_lines
from fabbooking.figures.monthly import Month, SiteRow, month_range
from fabbooking.figures.records import COLUMNS, record
from fabbooking.figures.rows import BookingRow, SessionRow, WorkshopRow, compute_month, overlap_hours
from fabbooking.figures.suppression import min_count, suppress_month
from fabbooking.settings import ConfigError

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BREST = SiteRow(1, "brest", "Brest", "Europe/Paris")
NOUMEA = SiteRow(2, "noumea", "Nouméa", "Pacific/Noumea")


def at(text: str, tz=PARIS) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def test_month_bounds_follow_the_sites_clock_across_dst():
    start, end = Month(2026, 3).bounds(PARIS)
    assert start == datetime(2026, 2, 28, 23, tzinfo=UTC)  # UTC+1 in winter
    assert end == datetime(2026, 3, 31, 22, tzinfo=UTC)  # UTC+2 after 29 March
    assert (end - start).total_seconds() / 3600 == 31 * 24 - 1  # one hour fewer
    assert Month(2026, 12).next() == Month(2027, 1) and Month(2026, 1).previous() == Month(2025, 12)
    assert [str(m) for m in month_range(Month(2025, 11), Month(2026, 2))] == [
        "2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-03", "2026-3", "mars", "", "2026-03-01"])
def test_malformed_months_are_refused(text):
    with pytest.raises(ValueError):
        Month.parse(text)


def test_a_booking_counts_where_it_starts_and_its_hours_are_split():
    late = BookingRow(1, "3d_printer", 7, at("2026-10-31 23:00"), at("2026-11-01 01:30"), "confirmed")
    october = compute_month(Month(2026, 10), [BREST], NOW, bookings=[late]).sites[0]
    november = compute_month(Month(2026, 11), [BREST], NOW, bookings=[late]).sites[0]
    # 23:00 → midnight in October (1 h), midnight → 01:30 in November (1.5 h)
    assert (october.bookings, october.booked_hours) == (1, 1.0)
    assert (november.bookings, november.booked_hours) == (0, 1.5)
    assert overlap_hours(at("2026-01-01 10:00"), at("2026-01-01 11:00"), at("2026-02-01 00:00"),
                         at("2026-03-01 00:00")) == 0.0


def test_the_same_utc_moment_falls_in_different_months_at_different_sites():
    moment = datetime(2026, 10, 31, 20, tzinfo=UTC)  # 21:00 in Brest, 07:00 on 1 Nov in Nouméa
    rows = [BookingRow(1, "cnc", 1, moment, moment.replace(hour=21), "confirmed"),
            BookingRow(2, "cnc", 1, moment, moment.replace(hour=21), "confirmed")]
    october = compute_month(Month(2026, 10), [BREST, NOUMEA], NOW, bookings=rows)
    november = compute_month(Month(2026, 11), [BREST, NOUMEA], NOW, bookings=rows)
    assert [f.bookings for f in october.sites] == [1, 0]
    assert [f.bookings for f in november.sites] == [0, 1]
    # one maker at two sites in the same month is one person in the network
    assert october.network.distinct_makers == 1 and november.network.distinct_makers == 1


def test_no_show_rate_counts_only_what_was_due():
    rows = [
        BookingRow(1, "3d_printer", 1, at("2026-11-02 10:00"), at("2026-11-02 11:00"), "confirmed"),
        BookingRow(1, "3d_printer", 2, at("2026-11-03 10:00"), at("2026-11-03 11:00"), "no_show"),
        BookingRow(1, "3d_printer", 3, at("2026-11-28 10:00"), at("2026-11-28 11:00"), "confirmed"),
        BookingRow(1, "3d_printer", 3, at("2026-11-04 10:00"), at("2026-11-04 11:00"), "cancelled"),
        BookingRow(1, "3d_printer", 9, at("2026-11-05 10:00"), at("2026-11-05 11:00"), "confirmed",
                   purpose="workshop"),
    ]
    figures = compute_month(Month(2026, 11), [BREST], at("2026-11-20 12:00"), bookings=rows).sites[0]
    # due: the 2 Nov (over) and the no-show; the 28 Nov is still to come → 1 / 2
    assert (figures.bookings, figures.bookings_cancelled, figures.no_show_rate) == (3, 1, 0.5)
    assert figures.booked_hours == 4.0  # 3 makers' hours + the workshop hold; not the cancelled one
    assert figures.distinct_makers == 2  # makers 1 and 3; the no-show's maker did not come
    empty = compute_month(Month(2026, 11), [BREST], NOW).sites[0]
    assert empty.no_show_rate is None and empty.busiest_kinds == []


def test_busiest_kinds_use_booked_hours_when_no_machine_reports():
    bookings = [BookingRow(1, "laser_cutter", 1, at("2026-11-02 10:00"), at("2026-11-02 12:00"), "confirmed"),
                BookingRow(1, "3d_printer", 1, at("2026-11-03 10:00"), at("2026-11-03 11:00"), "confirmed")]
    booked_only = compute_month(Month(2026, 11), [BREST], NOW, bookings=bookings).sites[0]
    assert booked_only.busiest_basis == "booked"
    assert booked_only.busiest_kinds == [("laser_cutter", 2.0), ("3d_printer", 1.0)]
    sessions = [SessionRow(1, "3d_printer", at("2026-11-03 10:00"), 1800.0)]
    used = compute_month(Month(2026, 11), [BREST], NOW, bookings=bookings, sessions=sessions).sites[0]
    assert used.busiest_basis == "used" and used.busiest_kinds == [("3d_printer", 0.5)]


def test_running_sessions_have_no_hours_yet():
    running = SessionRow(1, "3d_printer", at("2026-11-03 10:00"), None)
    figures = compute_month(Month(2026, 11), [BREST], NOW, sessions=[running]).sites[0]
    assert (figures.used_hours, figures.sessions) == (0.0, 0)


def test_workshops_count_when_done_and_registrations_when_not_cancelled():
    rows = [WorkshopRow(1, at("2026-11-05 14:00"), "done", (("children", 4, 1), ("martians", 2, 2)), 3),
            WorkshopRow(1, at("2026-11-06 14:00"), "planned", (), 2),
            WorkshopRow(1, at("2026-11-07 14:00"), "cancelled", (("adults", 8, 8),), 8)]
    figures = compute_month(Month(2026, 11), [BREST], NOW, workshops=rows).sites[0]
    assert figures.workshops_held == 1
    assert figures.attendance["children"] == 4 and figures.attendance["other"] == 2  # unknown → other
    assert figures.registrations == 3 + 2


# --- suppression ------------------------------------------------------------------------

def _month_records(attendance_by_site):
    rows = [WorkshopRow(site.id, at("2026-11-05 14:00"), "done", tuple(att))
            for site, att in attendance_by_site]
    result = compute_month(Month(2026, 11), [s for s, _ in attendance_by_site], NOW, workshops=rows)
    return [record(f) for f in result.sites], record(result.network)


def test_small_people_counts_are_hidden_zero_stays_zero_events_stay():
    sites, network = _month_records([(BREST, [("children", 7, 2), ("adults", 3, 0)]),
                                     (NOUMEA, [("children", 4, 4)])])
    public, total = suppress_month(sites, network, 3)
    brest = public[0]
    assert brest["attendance_children"] == 7 and brest["attendance_adults"] == 3  # 3 is not < 3
    assert brest["first_timers_children"] is None  # 2 people
    assert brest["first_timers_adults"] == 0  # nobody is nobody
    assert brest["workshops_held"] == 1
    assert total["attendance_total"] == 14
    assert sites[0]["first_timers_children"] == 2  # the exact records are left untouched


def test_a_hidden_count_cannot_be_found_by_subtraction_in_a_row():
    # 10 = 5 children + 1 adult + 4 seniors: hiding only the 1 would leave 10 - 5 - 4
    sites, network = _month_records([(BREST, [("children", 5, 0), ("adults", 1, 0), ("seniors", 4, 0)])])
    public, _ = suppress_month(sites, network, 3)
    row = public[0]
    assert row["attendance_adults"] is None and row["attendance_seniors"] is None
    assert row["attendance_children"] == 5 and row["attendance_total"] == 10


def test_a_hidden_count_cannot_be_found_from_the_network_total():
    # network 12 = Brest 10 + Nouméa 2: hiding Nouméa's 2 alone would leave 12 - 10
    sites, network = _month_records([(BREST, [("children", 10, 0)]), (NOUMEA, [("children", 2, 0)])])
    public, total = suppress_month(sites, network, 3)
    assert public[1]["attendance_children"] is None and public[0]["attendance_children"] is None
    assert total["attendance_children"] == 12


def test_threshold_one_publishes_everything():
    sites, network = _month_records([(BREST, [("children", 1, 1)])])
    public, _ = suppress_month(sites, network, 1)
    assert public[0]["attendance_children"] == 1


def test_the_threshold_is_read_and_checked():
    assert min_count({}) == 3
    assert min_count({"FABBOOKING_OPEN_DATA_MIN_COUNT": " 5 "}) == 5
    for wrong in ("0", "-2", "trois", "1000"):
        with pytest.raises(ConfigError, match="FABBOOKING_OPEN_DATA_MIN_COUNT.*whole number"):
            min_count({"FABBOOKING_OPEN_DATA_MIN_COUNT": wrong})


def test_records_have_every_documented_column():
    from pathlib import Path

    sites, network = _month_records([(BREST, [])])
    assert tuple(network) == COLUMNS and tuple(sites[0]) == COLUMNS
    doc = (Path(__file__).resolve().parent.parent / "docs" / "open-data.md").read_text()
    for column in COLUMNS:
        assert f"`{column}`" in doc, f"{column} is not documented in docs/open-data.md"


# --- charts -----------------------------------------------------------------------------

def test_a_long_label_takes_two_lines_instead_of_leaving_the_chart():
    assert label_lines("Adultes") == ["Adultes"]
    assert label_lines("Personnes en recherche d'emploi") == ["Personnes en", "recherche d'emploi"]
    assert label_lines("Imprimantes 3D grand format et résine spéciale") == [
        "Imprimantes 3D grand", "format et résine sp…"]
    assert all(len(line) <= 20 for line in label_lines("x" * 50))
    svg = bar_chart("c2", "t", "d", [Series("Participants")],
                    [Group("Personnes en recherche d'emploi", (4,), ("4",))])
    ns = "{http://www.w3.org/2000/svg}"
    spans = [t.text for t in ElementTree.fromstring(svg).iter(f"{ns}tspan")]
    assert spans == ["Personnes en", "recherche d'emploi"]


def test_a_chart_is_a_named_image_with_values_as_text_and_no_style():
    svg = bar_chart("c1", "Heures <par> mois", "Barres & valeurs", [Series("Réservées", hatched=True),
                                                                    Series("Utilisées")],
                    [Group("nov. 2026", (12.5, 10.0), ("12,5 h", "10 h")),
                     Group("déc. 2026", (None, 0), ("< 3", "0 h"))])
    tree = ElementTree.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    assert tree.get("role") == "img" and tree.get("aria-labelledby") == "c1-title c1-desc"
    assert tree.find(f"{ns}title").text == "Heures <par> mois"
    assert tree.find(f"{ns}desc").text == "Barres & valeurs"
    texts = ["".join(t.itertext()) for t in tree.iter(f"{ns}text")]
    assert {"Réservées", "Utilisées", "nov. 2026", "12,5 h", "< 3"} <= set(texts)
    assert "style=" not in svg
    bars = [r for r in tree.iter(f"{ns}rect") if r.get("height") == "16"]
    # two legend swatches + two bars; no bar for an unpublished or zero value
    assert len(bars) == 4
    assert re.search(r'fill="url\(#c1-hatch\)"', svg)  # the second series is told apart by a pattern
