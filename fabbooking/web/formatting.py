"""Dates and times as people read them: in the site's timezone, in their language."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_day_names

from fabbooking.web.i18n import current_language

DEFAULT_TZ = "Europe/Paris"


# A week's grid writes the same few hundred dates and times on every request: Babel's
# formatting (a locale parsed, a pattern applied) was a fifth of the machine page's time.
# The answers depend only on the value, the pattern and the language, so they are kept.
@lru_cache(maxsize=8192)
def _date_text(value: date, pattern: str, language: str) -> str:
    return format_date(value, pattern, locale=language)


@lru_cache(maxsize=8192)
def _time_text(moment: datetime, language: str) -> str:
    return format_time(moment, "HH:mm", locale=language)


def _zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz or DEFAULT_TZ)


def local(moment: datetime, tz: str | ZoneInfo | None = None) -> datetime:
    return moment.astimezone(_zone(tz))


def when(moment: datetime, tz: str | ZoneInfo | None = None) -> str:
    """« mardi 1 décembre à 14:00 » / "Tuesday 1 December at 14:00"."""
    moment = local(moment, tz)
    language = current_language.get()
    return f"{day(moment.date())} {'à' if language == 'fr' else 'at'} {hour(moment, tz)}"


def day(value: date | datetime, tz: str | ZoneInfo | None = None) -> str:
    """« mardi 1 décembre » / "Tuesday 1 December"."""
    if isinstance(value, datetime):
        value = local(value, tz).date()
    return _date_text(value, "EEEE d MMMM", current_language.get())


def short_day(value: date) -> str:
    """« lun. 30/11 » / "Mon 30/11"."""
    return _date_text(value, "EEE d/MM", current_language.get())


def hour(moment: datetime, tz: str | ZoneInfo | None = None) -> str:
    return _time_text(local(moment, tz), current_language.get())


def long_date(value: date) -> str:
    return _date_text(value, "long", current_language.get())


def weekday_name(weekday: int) -> str:
    """« lundi » / "Monday" for 0, and so on: Babel's names, as each language writes them."""
    return get_day_names("wide", locale=current_language.get())[weekday]


def sentence_start(text: str) -> str:
    """``text`` opening a sentence or a heading: its first letter upper case, the rest as
    Babel wrote it (« Jeudi 10 décembre », "Thursday 10 December"). Unlike Jinja's
    ``capitalize``, which lowers every other letter ("Thursday 10 december")."""
    return text[:1].upper() + text[1:]


def duration(minutes: int) -> str:
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def stamp(moment: datetime) -> str:
    """Machine-readable moment for <time datetime> and URLs."""
    return moment.isoformat()


FILTERS = {
    "when": when,
    "day": day,
    "short_day": short_day,
    "hour": hour,
    "long_date": long_date,
    "weekday_name": weekday_name,
    "sentence_start": sentence_start,
    "duration": duration,
    "stamp": stamp,
    "local": local,
}
