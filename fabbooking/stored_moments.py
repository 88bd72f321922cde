"""Moments as the database gives them back: a raw query on SQLite gives the stored text,
PostgreSQL a datetime; a moment without a zone is UTC, as every moment we store."""

from __future__ import annotations

from datetime import UTC, datetime


def as_datetime(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def aware(value: datetime | str) -> datetime:
    moment = as_datetime(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
