from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

HOUR = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class WishIn(msgspec.Struct, forbid_unknown_fields=True):
    """One machine (``machine_id``), or any machine of ``kind`` at ``site``; on ``day``
    from ``start`` to ``end``, local times of the site."""

    day: date
    start: Annotated[str, msgspec.Meta(pattern=HOUR, description="HH:MM, the site's local time")]
    end: Annotated[str, msgspec.Meta(pattern=HOUR, description="HH:MM, the site's local time; after start")]
    site: str | None = None
    machine_id: int | None = None
    kind: str | None = None


class WishOut(msgspec.Struct):
    id: int
    site: str
    site_name: str
    machine_id: int | None
    machine_name: str | None
    kind: str | None
    start: datetime
    end: datetime
    created_at: datetime
    told_at: datetime | None
