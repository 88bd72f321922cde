"""The home page's search, « what: [kind] when: [day, part of the day] », which lands on
the schedule. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fabbooking.network.tables import MachineKind

DAYS_OFFERED = 14  # today, tomorrow, then the days of the next two weeks by their date


@dataclass(frozen=True)
class SearchChoices:
    kinds: list[str]  # the kinds the network has, in the usual order
    days: list[tuple[str, date]]  # (the schedule's ``day`` value, the date it means)


def search_choices(kinds_present: set[str], today: date) -> SearchChoices:
    days = [("today", today), ("tomorrow", today + timedelta(days=1))]
    days += [((today + timedelta(days=n)).isoformat(), today + timedelta(days=n)) for n in range(2, DAYS_OFFERED)]
    return SearchChoices([k.value for k in MachineKind if k.value in kinds_present], days)
