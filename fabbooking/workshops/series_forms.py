"""The recurring workshop form of the pages: how it repeats, until when, or which days.

Pure: no database, no HTTP. The workshop's own fields (title, first day, times, machines…)
are read by forms.read_workshop; this adds how it repeats. Errors are keyed by the id of
the field to correct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from fabbooking.web.desk_forms import read_day
from fabbooking.web.i18n import _
from fabbooking.workshops.forms import Entered, Errors, WorkshopAnswers
from fabbooking.workshops.recurrence import MAX_OCCURRENCES, Frequency

DATES_LENGTH = 2000  # 52 dates written out take ~600 characters


@dataclass(frozen=True)
class Repeat:
    frequency: str
    until: date | None
    dates: tuple[date, ...]


def read_repeat(form: Entered, answers: WorkshopAnswers | None, first_day: date | None
                ) -> tuple[Repeat | None, Errors]:
    """How the workshop repeats. With chosen dates, the first day is one of them."""
    errors: Errors = {}
    frequency = form.get("frequency")
    if frequency not in {f.value for f in Frequency}:
        return None, {"series-weekly": _("Choisissez comment l'atelier revient.")}
    until: date | None = None
    dates: tuple[date, ...] = ()
    if frequency == Frequency.dates.value:
        text = form.get("dates")
        if len(text) > DATES_LENGTH:
            return None, {"series-dates": _("Une série compte au plus %(limit)s dates.",
                                            limit=MAX_OCCURRENCES)}
        words = [w for w in re.split(r"[\s,;]+", text) if w]
        days = [read_day(w) for w in words]
        wrong = [w for w, d in zip(words, days, strict=True) if d is None]
        if wrong:
            errors["series-dates"] = _("Ces dates ne se lisent pas : %(dates)s. Écrivez-les "
                                       "comme 31/12/2026, une par ligne.",
                                       dates=", ".join(wrong[:5]))
        dates = tuple(d for d in days if d is not None) + ((first_day,) if first_day else ())
    else:
        until = read_day(form.get("until"))
        if until is None:
            errors["series-until"] = _("Indiquez jusqu'à quel jour, comme 30/06/2027.")
    if errors or answers is None:
        return None, errors
    return Repeat(frequency, until, dates), {}

