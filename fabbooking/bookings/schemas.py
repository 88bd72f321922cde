from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Moment = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with an offset")]


class BookingIn(msgspec.Struct, forbid_unknown_fields=True):
    machine_id: int
    start: Moment
    end: Moment
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    maker_id: int | None = None


class BookingOut(msgspec.Struct):
    id: int
    machine_id: int
    machine_name: str
    site: str
    maker_id: int
    maker_username: str
    maker_name: str
    booked_by_id: int
    on_behalf: bool
    start: datetime
    end: datetime
    status: str
    note: str
    created_at: datetime
    cancelled_at: datetime | None


class IntervalOut(msgspec.Struct):
    start: datetime
    end: datetime


class AvailabilityOut(msgspec.Struct):
    machine_id: int
    site: str
    status: str
    timezone: str
    slot_minutes: int
    min_minutes: int
    max_minutes: int
    busy: list[IntervalOut]
    free: list[IntervalOut]
