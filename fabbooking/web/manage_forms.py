"""Reading the network administration forms: every mistake named in plain words, by field.

Each reader takes the submitted form (a dict of strings) and returns the values for the
services and a dict ``{field: message}`` of what to correct; nothing is written here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fabbooking.accounts.tables import Role
from fabbooking.network.tables import MachineKind, MachineStatus, SiteKind
from fabbooking.web.i18n import _

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SITE_KINDS = [k.value for k in SiteKind]
MACHINE_KINDS = [k.value for k in MachineKind]
MACHINE_STATUSES = [s.value for s in MachineStatus]
ROLES = [r.value for r in Role]
PERIODS_SHOWN = 2  # opening periods offered per weekday (more are kept if the site has them)
PERIODS_READ = 6
Errors = dict[str, str]


def N_(message: str) -> str:
    """Mark a text for translation; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    hint: str
    low: int
    high: int


# A site's default booking rules, as the edit form asks for them (bounds as in the API).
RULES = (
    Rule("slot_minutes", N_("Taille des tranches de réservation"),
         N_("en minutes, de 5 à 240 ; avec 15, on réserve à 14 h 00, 14 h 15, 14 h 30…"), 5, 240),
    Rule("min_minutes", N_("Durée la plus courte d'une réservation"), N_("en minutes"), 1, 10_000),
    Rule("max_minutes", N_("Durée la plus longue d'une réservation"), N_("en minutes"), 1, 10_000),
    Rule("max_days_ahead", N_("Jusqu'à combien de jours à l'avance on peut réserver"),
         N_("en jours, de 0 à 366"), 0, 366),
    Rule("min_notice_minutes", N_("Délai minimum avant le début d'une réservation"),
         N_("en minutes ; 0 pour pouvoir réserver au dernier moment"), 0, 100_000),
    Rule("cancel_deadline_minutes", N_("Dernier moment pour annuler en ligne"),
         N_("en minutes avant le début ; ensuite, il faut prévenir l'équipe"), 0, 100_000),
    Rule("max_future_bookings", N_("Réservations à venir par personne dans ce lieu, au plus"),
         N_("un nombre ; l'équipe du lieu n'est pas limitée quand elle réserve"), 0, 1000),
    Rule("buffer_minutes", N_("Pause entre deux réservations d'une même machine"),
         N_("en minutes, de 0 à 240, pour nettoyer ou laisser refroidir"), 0, 240),
)
# Only a site has it: how long a booked machine that reports its use may stay unused.
NO_SHOW_GRACE = Rule(
    "no_show_grace_minutes", N_("Délai avant de libérer une réservation où personne n'est venu"),
    N_("en minutes après le début, de 0 à 240 ; seulement pour les machines qui signalent leur usage"),
    0, 240)
# Only a site has it: when the day-before e-mail reminders of its bookings go.
REMINDER_HOUR = Rule(
    "reminder_hour", N_("Heure des rappels par e-mail, la veille d'une réservation"),
    N_("une heure de la journée, de 0 à 23 ; 17 : les rappels partent la veille à partir de 17 h"), 0, 23)
SITE_RULES = (*RULES, NO_SHOW_GRACE, REMINDER_HOUR)


def slugify(text: str) -> str:
    """« PAPIFab de Kérourien » → « papifab-de-kerourien »."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:80].rstrip("-")


def _text(data: dict[str, str], name: str, limit: int) -> str:
    return data.get(name, "").strip()[:limit]


def read_slug(data: dict[str, str], errors: Errors) -> str:
    """The identifier typed, or one made from the name when left empty."""
    slug = data.get("slug", "").strip().lower() or slugify(data.get("name", ""))
    if not SLUG_PATTERN.match(slug):
        errors["slug"] = _("L'identifiant ne peut contenir que des lettres sans accent, des "
                           "chiffres et des tirets, par exemple papifab-bellevue.")
    return slug


def _name(data: dict[str, str], errors: Errors) -> str:
    name = _text(data, "name", 150)
    if not name:
        errors["name"] = _("Écrivez un nom.")
    return name


def site_values(data: dict[str, str]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    values: dict[str, Any] = {
        "name": _name(data, errors),
        "kind": data.get("kind", ""),
        "neighbourhood": _text(data, "neighbourhood", 100),
        "address": _text(data, "address", 500),
        "timezone": _text(data, "timezone", 64) or "Europe/Paris",
    }
    if "description" in data:
        values["description"] = _text(data, "description", 5000)
    if values["kind"] not in SITE_KINDS:
        errors["kind"] = _("Choisissez le type de lieu.")
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("Fuseau horaire inconnu. Écrivez par exemple Europe/Paris.")
    return values, errors


def _rule_number(data: dict[str, str], rule: Rule, errors: Errors, blank_ok: bool) -> int | None:
    raw = data.get(rule.name, "").strip()
    if not raw and blank_ok:
        return None
    try:
        number = int(raw)
    except ValueError:
        number = None
    if number is None or not rule.low <= number <= rule.high:
        errors[rule.name] = _("Écrivez un nombre entier de %(low)s à %(high)s.",
                              low=rule.low, high=rule.high)
        return None
    return number


def _check_durations(values: dict[str, int | None], errors: Errors) -> None:
    shortest, longest = values.get("min_minutes"), values.get("max_minutes")
    if shortest is not None and longest is not None and shortest > longest:
        errors["max_minutes"] = _("La durée la plus longue doit être au moins égale à la plus courte.")


def rule_values(data: dict[str, str]) -> tuple[dict[str, int], Errors]:
    """A site's rules: every one is required."""
    errors: Errors = {}
    values = {rule.name: _rule_number(data, rule, errors, blank_ok=False) for rule in SITE_RULES}
    _check_durations(values, errors)
    return {k: v for k, v in values.items() if v is not None}, errors


def machine_rule_overrides(data: dict[str, str]) -> tuple[dict[str, int | None], Errors]:
    """A machine's own rules: a blank field takes the site's rule again (None)."""
    errors: Errors = {}
    values = {rule.name: _rule_number(data, rule, errors, blank_ok=True) for rule in RULES}
    _check_durations(values, errors)
    return values, errors


def week_from_rows(rows: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """The opening hours editor's content from the stored periods: seven weekdays."""
    week: list[list[dict[str, str]]] = [[] for _day in range(7)]
    for row in rows:
        week[row["weekday"]].append({"opens": row["opens"].strftime("%H:%M"),
                                     "closes": row["closes"].strftime("%H:%M")})
    return [_padded(day) for day in week]


def week_from_form(data: dict[str, str]) -> list[list[dict[str, str]]]:
    """The editor's content as it was sent, to show it again with what to correct."""
    week = []
    for weekday in range(7):
        day = [{"opens": data.get(f"h{weekday}-{i}-opens", "").strip(),
                "closes": data.get(f"h{weekday}-{i}-closes", "").strip()}
               for i in range(PERIODS_READ) if f"h{weekday}-{i}-opens" in data]
        while len(day) > PERIODS_SHOWN and not (day[-1]["opens"] or day[-1]["closes"]):
            day.pop()
        week.append(_padded(day))
    return week


def _padded(day: list[dict[str, str]]) -> list[dict[str, str]]:
    return day + [{"opens": "", "closes": ""}] * (PERIODS_SHOWN - len(day))


def _clock(text: str) -> time | None:
    try:
        return time.fromisoformat(text)
    except ValueError:
        return None


def opening_periods(data: dict[str, str]) -> tuple[list[tuple[int, time, time]], Errors]:
    """Periods (weekday, opens, closes) to store; errors are keyed ``day0`` … ``day6``."""
    periods: list[tuple[int, time, time]] = []
    errors: Errors = {}
    for weekday, day in enumerate(week_from_form(data)):
        found: list[tuple[time, time]] = []
        for period in day:
            if not period["opens"] and not period["closes"]:
                continue
            opens, closes = _clock(period["opens"]), _clock(period["closes"])
            if opens is None or closes is None:
                errors[f"day{weekday}"] = _("Pour chaque période, indiquez l'heure d'ouverture "
                                            "et l'heure de fermeture (ou laissez les deux vides).")
            elif closes <= opens and closes != time(0, 0):
                errors[f"day{weekday}"] = _("La fermeture (%(closes)s) doit être après l'ouverture "
                                            "(%(opens)s).", opens=period["opens"], closes=period["closes"])
            else:
                found.append((opens, closes))
        found.sort()
        for (_o1, first_closes), (second_opens, _c2) in zip(found, found[1:], strict=False):
            if first_closes == time(0, 0) or second_opens < first_closes:
                errors.setdefault(f"day{weekday}", _("Les périodes de ce jour se chevauchent : la "
                                                     "deuxième doit commencer après la fin de la première."))
        periods += [(weekday, opens, closes) for opens, closes in found]
    return periods, errors


def _training_id(data: dict[str, str], errors: Errors) -> int | None:
    raw = data.get("required_training", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors["required_training"] = _("Choisissez une formation dans la liste.")
        return None


def machine_values(data: dict[str, str]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    values = {"name": _name(data, errors), "kind": data.get("kind", ""),
              "description": _text(data, "description", 5000),
              "required_training": _training_id(data, errors)}
    if values["kind"] not in MACHINE_KINDS:
        errors["kind"] = _("Choisissez le type de machine.")
    return values, errors


def machine_changes(data: dict[str, str]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    values = {"status": data.get("status", ""), "required_training": _training_id(data, errors)}
    if values["status"] not in MACHINE_STATUSES:
        errors["status"] = _("Choisissez l'état de la machine.")
    if "rules_shown" in data:  # the form with the machine's own rules
        overrides, rule_errors = machine_rule_overrides(data)
        values.update(overrides)
        errors.update(rule_errors)
    return values, errors


def training_values(data: dict[str, str]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    values = {"slug": read_slug(data, errors), "name": _name(data, errors),
              "description": _text(data, "description", 5000),
              "unlocks_kinds": [k for k in MACHINE_KINDS if data.get(f"kind-{k}")]}
    return values, errors


def ticked_sites(data: dict[str, str]) -> list[str]:
    """The sites ticked in a « site-<slug> » checkbox group."""
    return [key.removeprefix("site-") for key, value in data.items() if key.startswith("site-") and value]


def role_choice(data: dict[str, str], errors: Errors) -> tuple[str, list[str]]:
    role = data.get("role", "")
    if role not in ROLES:
        errors["role"] = _("Choisissez un rôle.")
    sites = ticked_sites(data) if role == Role.animator.value else []
    if role == Role.animator.value and not sites:
        errors["sites"] = _("Cochez au moins un lieu où cette personne anime.")
    return role, sites


def account_values(data: dict[str, str]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    role, sites = role_choice(data, errors)
    values = {"username": _text(data, "username", 40), "display_name": _text(data, "display_name", 120),
              "password": data.get("password", ""), "email": _text(data, "email", 255) or None,
              "role": role, "site_slugs": tuple(sites)}
    if not values["username"]:
        errors["username"] = _("Écrivez un nom d'utilisateur.")
    if values["email"] and "@" not in values["email"]:
        errors["email"] = _("Cette adresse e-mail n'est pas complète (il manque @). Elle n'est pas obligatoire.")
    return values, errors
