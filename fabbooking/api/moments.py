"""Reading moments from query strings: ISO 8601 with an offset, never a naive time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fabbooking.errors import Refused

# What parse_moment reads, said once for the parser and for the OpenAPI document. The
# document gets it as ``schema_extra`` only: a pattern enforced by Litestar would replace our
# sentence « écrivez-la comme … » with its own. A space stands for the « + » of an offset
# that URL decoding turned into one.
MOMENT_PATTERN = (r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
                  r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+ -]([01][0-9]|2[0-3]):[0-5][0-9])$")
MOMENT_SCHEMA = {"pattern": MOMENT_PATTERN}
OPTIONAL_MOMENT_SCHEMA = {"pattern": f"^$|{MOMENT_PATTERN}"}  # where it may be left out, empty is left out
_MOMENT = re.compile(MOMENT_PATTERN)


def parse_moment(name: str, value: str) -> datetime:
    """Parse ``value``; a ``+`` turned into a space by URL decoding is put back."""
    if not _MOMENT.match(value):
        if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+)?$", value):  # a date, or a time without offset
            raise Refused("naive_datetime", field=name)
        raise Refused("invalid_datetime", field=name)
    text = value[:-6] + "+" + value[-5:] if value[-6] == " " else value
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # 30 February; 0001-01-01T00:00+01:00 is before the first UTC moment
        raise Refused("invalid_datetime", field=name) from None


def now() -> datetime:
    return datetime.now(UTC)


def this_minute() -> datetime:
    """The moment an answer that holds for the whole current minute is computed at — the
    page cache (fabbooking.web.page_cache) keeps it until the minute turns: the minute's
    first microsecond past. Bookings, opening hours and every rule are whole minutes, so any
    moment of the minute gets the same answer as this one, but its very first microsecond,
    when a slot starting right then is not offered (bookable for that microsecond only)."""
    return now().replace(second=0, microsecond=1)
