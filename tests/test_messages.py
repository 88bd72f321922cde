"""Every refusal and error has a French and an English sentence, and they render cleanly."""

from __future__ import annotations

import re
import string
from datetime import date
from pathlib import Path

import pytest

from fabbooking.errors import STATUS_BY_CODE
from fabbooking.figures import messages as figures_messages
from fabbooking.messages import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    MESSAGES,
    pick_language,
    render,
)
from fabbooking.projects import messages as projects_messages  # noqa: E402
from fabbooking.workshops import messages as workshops_messages  # noqa: E402

PACKAGE = Path(__file__).resolve().parent.parent / "fabbooking"

RULE_CODES = [
    "invalid_range", "machine_in_maintenance", "machine_out_of_order", "in_the_past",
    "notice_too_short", "too_far_ahead", "not_on_slot_grid", "too_short", "too_long",
    "site_closed", "outside_opening_hours", "not_qualified", "qualification_expired",
    "too_many_bookings", "overlap", "too_close", "already_cancelled", "not_cancellable",
    "not_yours", "cancel_deadline_passed",
]

# Plausible values for each message's parameters, named as the code that raises it names them.
PARAMS: dict[str, dict[str, object]] = {
    "wish_unknown_kind": {"kind": "robot", "kinds": "3d_printer, laser_cutter"},
    "wish_machine_elsewhere": {"site": "bellevue"},
    "too_many_wishes": {"count": 20},
    "notice_too_short": {"minutes": 120},
    "too_far_ahead": {"days": 30},
    "address_link_expired": {"days": 7},
    "not_on_slot_grid": {"minutes": 15},
    "too_short": {"minutes": 30},
    "too_long": {"minutes": 240},
    "site_closed": {"start": date(2027, 3, 20), "end": date(2027, 3, 21), "reason": "inventaire"},
    "not_qualified": {"training": "Découpe laser"},
    "qualification_expired": {"training": "Découpe laser"},
    "too_many_bookings": {"limit": 3},
    "too_close": {"minutes": 15},
    "not_cancellable": {},
    "cancel_deadline_passed": {"minutes": 60},
    "too_many_attempts": {"minutes": 15},
    "too_many_signups": {"minutes": 30},
    "too_many_reset_requests": {"minutes": 2},
    "invalid_email": {"email": "camille@exemple"},
    "json_only": {"media_type": "text/plain"},
    "username_taken": {"username": "camille"},
    "username_look_alike": {"username": "саmille"},
    "invalid_password": {},
    "password_too_short": {"minimum": 6},
    "password_too_long": {"maximum": 128},
    "slug_taken": {"slug": "fablab-centre"},
    "invalid_timezone": {"timezone": "Europe/Pariss"},
    "invalid_opening_period": {"opens": "18:00", "closes": "09:00"},
    "range_too_long": {"days": 62},
    "not_found": {"what_fr": "la machine n° 4", "what_en": "machine #4"},
    "invalid_input": {"problems": "start: required"},
    "naive_datetime": {"field": "start"},
    "invalid_datetime": {"field": "end"},
    "http_error": {"status": 405},
    "too_large": {},
}
# Each later domain keeps its examples next to its sentences.
for _domain in (projects_messages, workshops_messages, figures_messages):
    PARAMS.update(getattr(_domain, "EXAMPLE_PARAMS", {}))


def codes_raised_in_source(pattern: str, *paths: Path) -> set[str]:
    found: set[str] = set()
    for path in paths:
        files = path.rglob("*.py") if path.is_dir() else [path]
        for file in files:
            found |= set(re.findall(pattern + r'\(\s*"([a-z_]+)"', file.read_text("utf-8")))
    return found


def template_fields(template: str) -> set[str]:
    return {name.split(":")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


# --- every code has both sentences -----------------------------------------------------

def test_rule_codes_list_is_every_code_the_rules_return():
    in_rules = codes_raised_in_source("Refusal", PACKAGE / "bookings" / "rules.py")
    assert in_rules == set(RULE_CODES)


@pytest.mark.parametrize("code", sorted(set(RULE_CODES) | set(STATUS_BY_CODE)))
def test_code_has_a_french_and_an_english_message(code):
    assert code in MESSAGES
    fr, en = MESSAGES[code]
    assert fr.strip() and en.strip()
    assert fr != en


def test_every_code_raised_anywhere_in_the_package_has_a_message():
    raised = codes_raised_in_source(r"Refus(?:ed|al)", PACKAGE)
    assert raised, "the scan found no code at all"
    assert sorted(raised - set(MESSAGES)) == []


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_french_and_english_messages_take_the_same_parameters(code):
    fr, en = MESSAGES[code]
    assert template_fields(fr) == template_fields(en)
    expected = {re.sub(r"_(fr|en)$", "", name) for name in PARAMS.get(code, {})}
    assert template_fields(fr) == expected


# --- rendering -----------------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_render_fills_every_parameter(code, language):
    text = render(code, language, **PARAMS.get(code, {}))
    assert "{" not in text and "}" not in text
    assert text == text.strip() and text


@pytest.mark.parametrize(("language", "params", "expected"), [
    ("fr", {"reason": "inventaire"}, "Le lieu est fermé du 20/03/2027 au 21/03/2027 (inventaire)."),
    ("en", {"reason": "inventaire"}, "The place is closed from 2027-03-20 to 2027-03-21 (inventaire)."),
    ("fr", {"reason": ""}, "Le lieu est fermé du 20/03/2027 au 21/03/2027. Choisissez"),
    ("en", {"reason": ""}, "The place is closed from 2027-03-20 to 2027-03-21. Choose"),
], ids=["fr_with_reason", "en_with_reason", "fr_without_reason", "en_without_reason"])
def test_closure_dates_are_written_the_local_way(language, params, expected):
    text = render("site_closed", language, start=date(2027, 3, 20), end=date(2027, 3, 21), **params)
    assert text.startswith(expected)


@pytest.mark.parametrize(("code", "language", "params", "contains"), [
    ("not_on_slot_grid", "en", {"minutes": 15}, "14:00, 14:15"),
    ("not_on_slot_grid", "fr", {"minutes": 5}, "14 h 05"),
    ("notice_too_short", "fr", {"minutes": 120}, "au moins 120 minutes"),
    ("too_many_bookings", "en", {"limit": 3}, "already have 3 upcoming"),
    ("not_qualified", "fr", {"training": "Découpe laser"}, "« Découpe laser »"),
    ("not_found", "fr", PARAMS["not_found"], "trouvé la machine n° 4"),
    ("not_found", "en", PARAMS["not_found"], "find machine #4"),
    ("not_cancellable", "en", {}, "because nobody came"),
], ids=["grid_example_en", "grid_example_fr", "notice_minutes", "quota_limit", "training_name",
        "not_found_fr", "not_found_en", "cancel_status"])
def test_render_puts_the_values_in_the_sentence(code, language, params, contains):
    assert contains in render(code, language, **params)


def test_render_defaults_to_french():
    assert render("overlap") == MESSAGES["overlap"][0]
    assert DEFAULT_LANGUAGE == "fr"


def test_render_in_an_unsupported_language_falls_back_to_french():
    assert render("overlap", "de") == MESSAGES["overlap"][0]


def test_render_of_an_unknown_code_gives_the_generic_message():
    assert render("no_such_code", "en", status=418) == "The request did not succeed (418)."


# --- language choice -------------------------------------------------------------------

@pytest.mark.parametrize(("accept_language", "preferred", "expected"), [
    ("fr-FR,fr;q=0.9", "en", "en"),
    ("en-GB,en;q=0.9", "fr", "fr"),
    ("en-GB,en;q=0.9", None, "en"),
    ("EN-us", None, "en"),
    ("de", None, "fr"),
    ("de-DE,de;q=0.9,en;q=0.5", None, "en"),
    ("fr-CA", None, "fr"),
    ("*", None, "fr"),
    ("", None, "fr"),
    (None, None, "fr"),
    ("en-GB,en;q=0.9", "de", "en"),
    (None, "en", "en"),
], ids=["account_preference_wins_over_browser", "french_preference_wins_over_browser",
        "british_browser", "upper_case_tag", "german_browser_defaults_to_french",
        "german_browser_that_also_reads_english", "canadian_french", "wildcard", "empty_header",
        "no_header", "unsupported_preference_ignored", "preference_without_header"])
def test_pick_language(accept_language, preferred, expected):
    assert pick_language(accept_language, preferred) == expected
