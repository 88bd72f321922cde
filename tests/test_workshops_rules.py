"""The workshop rules, without any I/O: times, capacity, attendance, the waiting list, the
defaults of « Noter un atelier »."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fabbooking.messages import MESSAGES as GLOBAL_MESSAGES
from fabbooking.messages import render
from fabbooking.workshops import rules
from fabbooking.workshops.forms import Entered, log_defaults, read_counts, read_workshop
from fabbooking.workshops.messages import EXAMPLE_PARAMS, MESSAGES
from fabbooking.workshops.rules import HeadCount, Seat
from fabbooking.workshops.tables import Audience

T0 = datetime(2026, 3, 14, 14, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def code(refusal):
    return refusal.code if refusal else None


def test_audiences_are_the_tables_audiences():
    assert rules.AUDIENCES == tuple(a.value for a in Audience)
    assert set(rules.AUDIENCE_NAMES) == set(rules.AUDIENCES)


@pytest.mark.parametrize("minutes, expected", [
    (120, None), (15, None), (12 * 60, None),
    (0, "workshop_end_before_start"), (-30, "workshop_end_before_start"),
    (10, "workshop_too_short"), (12 * 60 + 15, "workshop_too_long"),
])
def test_times(minutes, expected):
    assert code(rules.check_times(T0, T0 + timedelta(minutes=minutes))) == expected


@pytest.mark.parametrize("registration, capacity, expected", [
    (False, None, None), (True, 8, None), (False, 20, None), (True, 500, None),
    (True, None, "capacity_needed"), (True, 0, "capacity_invalid"), (False, -1, "capacity_invalid"),
    (True, 501, "capacity_invalid"), (True, True, "capacity_invalid"), (True, "8", "capacity_invalid"),
])
def test_capacity(registration, capacity, expected):
    assert code(rules.check_capacity(registration, capacity)) == expected


def test_capacity_never_drops_below_the_people_registered():
    assert code(rules.check_capacity_change(3, 4)) == "capacity_below_registered"
    assert rules.check_capacity_change(4, 4) is None
    assert rules.check_capacity_change(None, 40) is None


@pytest.mark.parametrize("counts, expected", [
    ([], None),
    ([HeadCount("adults", 4, 2), HeadCount("children", 0, 0)], None),
    ([HeadCount("adults", 4, 4)], None),
    ([HeadCount("adults", -1, 0)], "head_count_invalid"),
    ([HeadCount("adults", 2.5, 0)], "head_count_invalid"),
    ([HeadCount("adults", True, 0)], "head_count_invalid"),
    ([HeadCount("adults", 10_001, 0)], "head_count_invalid"),
    ([HeadCount("adults", 3, -1)], "first_timers_invalid"),
    ([HeadCount("adults", 3, 4)], "first_timers_over_head_count"),
    ([HeadCount("aliens", 3, 0)], "unknown_audience"),
    ([HeadCount("teens", 3, 0), HeadCount("teens", 1, 0)], "audience_twice"),
])
def test_attendance(counts, expected):
    assert code(rules.check_attendance(counts)) == expected


def test_attendance_refusals_name_the_audience_in_plain_words():
    refusal = rules.check_attendance([HeadCount("job_seekers", 2, 3)])
    french = render(refusal.code, "fr", **refusal.params)
    assert "personnes en recherche d'emploi" in french and "3 premières venues pour 2" in french
    assert "job seekers" in render(refusal.code, "en", **refusal.params)
    unknown = rules.check_attendance([HeadCount("aliens", 1)])
    assert "children, teens, adults" in render(unknown.code, "fr", **unknown.params)


def test_only_audiences_with_people_are_kept():
    assert rules.kept_counts([HeadCount("adults", 0), HeadCount("teens", 2)]) == [HeadCount("teens", 2)]


def seat(n: int, status: str, minutes: int) -> Seat:
    return Seat(n, status, T0 + timedelta(minutes=minutes))


def test_newcomers_get_a_place_until_full_then_wait():
    assert rules.status_for_newcomer(2, 0) == "registered"
    assert rules.status_for_newcomer(2, 1) == "registered"
    assert rules.status_for_newcomer(2, 2) == "waiting"
    assert rules.status_for_newcomer(None, 99) == "registered"
    assert rules.places_left(8, 3) == 5 and rules.places_left(8, 9) == 0
    assert rules.places_left(None, 3) is None


def test_the_oldest_waiting_moves_up_when_a_place_frees():
    seats = [seat(1, "registered", 0), seat(4, "waiting", 30), seat(2, "waiting", 10),
             seat(3, "waiting", 10)]
    assert rules.moving_up(2, seats) == [2]  # oldest first; same time: the first asked
    assert rules.moving_up(3, seats) == [2, 3]
    assert rules.moving_up(1, seats) == []
    assert rules.moving_up(10, seats) == [2, 3, 4]
    assert rules.moving_up(None, seats) == [2, 3, 4]


def test_registration_is_open_only_for_upcoming_workshops_that_take_it():
    assert rules.check_open_for_registration("planned", True, T0, T0 - timedelta(minutes=1)) is None
    assert code(rules.check_open_for_registration("planned", True, T0, T0)) == "registration_closed"
    assert code(rules.check_open_for_registration("planned", False, T0, T0 - timedelta(days=1))) \
        == "registration_off"
    assert code(rules.check_open_for_registration("cancelled", True, T0, T0 - timedelta(days=1))) \
        == "workshop_cancelled"
    assert code(rules.check_open_for_registration("done", True, T0, T0 - timedelta(days=1))) \
        == "registration_closed"


def test_names():
    assert code(rules.check_name("  ")) == "registration_name_needed"
    assert code(rules.check_name("x" * 151)) == "registration_name_too_long"
    assert rules.check_name("Madame Le Gall") is None
    assert code(rules.check_title("")) == "workshop_title_needed"
    assert code(rules.check_theme("x" * 101)) == "workshop_theme_too_long"


@pytest.mark.parametrize("now, start, end", [
    ("16:07", "14:00", "16:00"), ("16:15", "14:15", "16:15"), ("16:59", "14:45", "16:45"),
])
def test_log_defaults_end_at_the_last_quarter_hour_and_last_two_hours(now, start, end):
    moment = datetime.fromisoformat(f"2026-03-14T{now}:31").replace(tzinfo=PARIS)
    assert log_defaults(moment, PARIS) == {"day": "2026-03-14", "start": start, "end": end}


def test_log_defaults_just_after_midnight_stay_on_one_day():
    moment = datetime(2026, 3, 14, 0, 40, tzinfo=PARIS)
    assert log_defaults(moment, PARIS) == {"day": "2026-03-14", "start": "00:00", "end": "00:30"}


def test_log_defaults_in_the_first_quarter_hour_are_the_evening_before():
    """Not 00:00 to 00:00, which the form itself refuses (CI met it at 00:07 in Paris)."""
    moment = datetime(2026, 12, 6, 0, 7, tzinfo=PARIS)
    assert log_defaults(moment, PARIS) == {"day": "2026-12-05", "start": "21:45", "end": "23:45"}


def test_title_suggestions_newest_first_each_once():
    titles = ["Réparer son vélo", "Initiation  impression 3D", "réparer son vélo", "", "Couture"]
    assert rules.title_suggestions(titles) == ["Réparer son vélo", "Initiation impression 3D", "Couture"]
    assert rules.title_suggestions(titles, limit=1) == ["Réparer son vélo"]


def test_needs_log():
    assert rules.needs_log("planned", T0, T0)
    assert not rules.needs_log("planned", T0, T0 - timedelta(seconds=1))
    assert not rules.needs_log("done", T0, T0 + timedelta(days=1))


def test_reading_counts_from_the_form():
    counts, errors = read_counts(Entered({"count-adults": " 4 ", "first-adults": "",
                                          "count-teens": "3", "first-teens": "9",
                                          "count-seniors": "deux"}, {}))
    assert HeadCount("adults", 4, 0) in counts
    assert set(errors) == {"first-teens", "count-seniors"}


def test_reading_the_log_form_turns_local_times_into_utc():
    form = Entered({"title": "Couture", "day": "2026-07-01", "start": "14:00", "end": "16:30",
                    "count-children": "5"}, {"machine_ids": ["3", "x"], "animator_ids": ["7"]})
    answers, errors = read_workshop(form, PARIS, with_counts=True, with_registration=False)
    assert errors == {}
    assert answers.starts_at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert answers.ends_at == datetime(2026, 7, 1, 14, 30, tzinfo=UTC)
    assert answers.machine_ids == (3,) and answers.animator_ids == (7,)
    assert answers.public is False and answers.registration is False
    missing, errors = read_workshop(Entered({"day": "demain"}, {}), PARIS)
    assert missing is None and {"ws-title", "ws-day", "ws-start", "ws-end"} <= set(errors)


@pytest.mark.parametrize("message_code", sorted(MESSAGES))
def test_every_workshop_message_renders_in_both_languages(message_code):
    fr, en = MESSAGES[message_code]
    fields = {name.split(":")[0] for _, name, _, _ in string.Formatter().parse(fr) if name}
    assert fields == {name.split(":")[0] for _, name, _, _ in string.Formatter().parse(en) if name}
    params = EXAMPLE_PARAMS.get(message_code, {})
    assert fields == {re.sub(r"_(fr|en)$", "", name) for name in params}
    for language in ("fr", "en"):
        text = render(message_code, language, **params)
        assert text.strip() and "{" not in text and "}" not in text


def test_every_code_the_workshops_raise_has_a_message():
    package = Path(rules.__file__).parent
    raised = set()
    for file in package.glob("*.py"):
        raised |= set(re.findall(r'Refus(?:ed|al)\(\s*"([a-z_]+)"', file.read_text("utf-8")))
    assert raised - set(MESSAGES) <= set(GLOBAL_MESSAGES)
    assert set(MESSAGES) <= raised
