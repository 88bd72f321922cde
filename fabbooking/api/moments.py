"""Reading moments from query strings: ISO 8601 with an offset, never a naive time."""

from __future__ import annotations

from datetime import UTC, datetime

from fabbooking.errors import Refused


def parse_moment(name: str, value: str) -> datetime:
    """Parse ``value``; a ``+`` turned into a space by URL decoding is put back."""
    text = value.strip()
    if " " in text and "T" in text:
        text = text.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refused("invalid_datetime", field=name) from None
    if moment.tzinfo is None:
        raise Refused("naive_datetime", field=name)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC moment Python holds
        raise Refused("invalid_datetime", field=name) from None


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)
