"""Shared helpers of the workshop tests: times in the future or past, bodies, direct rows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fabbooking.workshops.tables import Workshop
from tests.conftest import PARIS


def local_moment(days: int, clock: str) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=days)
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=PARIS)


def plan_body(site: str = "atelier", days: int = 3, start: str = "14:00", minutes: int = 120,
              **extra) -> dict:
    begin = local_moment(days, start)
    return {"site": site, "title": "Initiation impression 3D", "start": begin.isoformat(),
            "end": (begin + timedelta(minutes=minutes)).isoformat(), **extra}


def log_body(site: str = "atelier", days_ago: int = 1, attendance: list | None = None,
             **extra) -> dict:
    begin = local_moment(-days_ago, "14:00")
    return {"site": site, "title": "Atelier couture numérique", "start": begin.isoformat(),
            "end": (begin + timedelta(hours=2)).isoformat(),
            "attendance": attendance if attendance is not None else
            [{"audience": "adults", "head_count": 5, "first_timers": 2}], **extra}


async def workshop_count() -> int:
    return await Workshop.count()


def utc_now() -> datetime:
    return datetime.now(UTC)
