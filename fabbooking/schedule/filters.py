"""What the schedule's address asks for (day, part of the day, kind, site, neighbourhood,
trained), checked: each wrong value gets a sentence saying what to choose instead. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from fabbooking.schedule.day import PERIODS

FURTHEST_DAYS = 366  # no rule lets anyone book further ahead


@dataclass(frozen=True)
class ScheduleFilters:
    day: date
    period: str = ""  # "" (the whole day) or a key of PERIODS
    kind: str = ""
    site: str = ""  # a site's slug
    neighbourhood: str = ""
    trained: bool = False

    def query(self, **changes: object) -> dict[str, str]:
        """These filters as the address's parameters (empty ones left out), with ``changes``."""
        values = {"day": self.day.isoformat(), "period": self.period, "kind": self.kind,
                  "site": self.site, "neighbourhood": self.neighbourhood,
                  "trained": "1" if self.trained else ""}
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Choices:
    """What may be chosen: the kinds, sites and neighbourhoods the network has."""

    kinds: list[str]
    sites: list[str]
    neighbourhoods: list[str]
    today: date
    last_day: date  # the furthest day any machine may be booked


@dataclass
class Reading:
    filters: ScheduleFilters
    problems: dict[str, str] = field(default_factory=dict)  # field name -> what to do


def read_filters(params: Mapping[str, str], choices: Choices, gettext: Callable[[str], str],
                 signed_in: bool) -> Reading:
    """The filters in ``params``; a wrong one is left at its default and explained in
    ``problems`` (``gettext`` words the explanations in the reader's language)."""
    _ = gettext
    problems: dict[str, str] = {}
    day = _day(params.get("day", "").strip(), choices, problems, _)
    period = params.get("period", "").strip()
    if period and period not in PERIODS:
        problems["period"] = _("Choisissez le matin, l'après-midi, le soir ou toute la journée.")
        period = ""
    kind = params.get("kind", "").strip()
    if kind and kind not in choices.kinds:
        problems["kind"] = _("Ce type de machine n'est pas dans le réseau : choisissez-en un dans la liste.")
        kind = ""
    site = params.get("site", "").strip()
    if site and site not in choices.sites:
        problems["site"] = _("Ce lieu n'est pas dans le réseau : choisissez-en un dans la liste.")
        site = ""
    neighbourhood = params.get("neighbourhood", "").strip()
    if neighbourhood and neighbourhood not in choices.neighbourhoods:
        problems["neighbourhood"] = _("Aucun lieu dans ce quartier : choisissez-en un dans la liste.")
        neighbourhood = ""
    trained = signed_in and params.get("trained", "") not in ("", "0")
    return Reading(ScheduleFilters(day, period, kind, site, neighbourhood, trained), problems)


def _day(text: str, choices: Choices, problems: dict[str, str], _: Callable[[str], str]) -> date:
    if text in ("", "today"):
        return choices.today
    if text == "tomorrow":
        return choices.today + timedelta(days=1)
    try:
        day = date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        day = None
    if day is None:
        problems["day"] = _("Cette date n'est pas valide : choisissez-la dans le calendrier (par exemple 2026-12-10).")
    elif day < choices.today:
        problems["day"] = _("Cette date est passée : choisissez aujourd'hui ou un jour à venir.")
    elif day > min(choices.last_day, choices.today + timedelta(days=FURTHEST_DAYS)):
        problems["day"] = _("On ne peut pas encore réserver ce jour-là : choisissez un jour plus proche.")
    else:
        return day
    return choices.today
