from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal

import msgspec

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]
Minutes = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Positive = Annotated[int, msgspec.Meta(ge=1, le=10_000)]  # minutes in a SmallInt column
SiteKindName = Literal["papifab", "fablab", "other"]
MachineKindName = Literal["3d_printer", "laser_cutter", "vinyl_cutter", "cnc", "embroidery", "other"]
MachineStatusName = Literal["available", "maintenance", "out_of_order"]
SlotMinutes = Annotated[int, msgspec.Meta(ge=5, le=240)]


class RulesOut(msgspec.Struct):
    slot_minutes: int
    min_minutes: int
    max_minutes: int
    max_days_ahead: int
    min_notice_minutes: int
    cancel_deadline_minutes: int
    max_future_bookings: int
    buffer_minutes: int


class OpeningPeriodIO(msgspec.Struct, forbid_unknown_fields=True):
    weekday: Annotated[int, msgspec.Meta(ge=0, le=6, description="0 is Monday")]
    opens: time
    closes: time


class ClosureIn(msgspec.Struct, forbid_unknown_fields=True):
    start_date: date
    end_date: date
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


class ClosureOut(msgspec.Struct):
    id: int
    start_date: date
    end_date: date
    reason: str


class SiteOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    kind: str
    neighbourhood: str
    address: str
    timezone: str
    description: str
    rules: RulesOut
    no_show_grace_minutes: int
    reminder_hour: int
    opening_hours: list[OpeningPeriodIO] = []
    closures: list[ClosureOut] = []


class SiteRulesIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    slot_minutes: SlotMinutes | msgspec.UnsetType = msgspec.UNSET
    min_minutes: Positive | msgspec.UnsetType = msgspec.UNSET
    max_minutes: Positive | msgspec.UnsetType = msgspec.UNSET
    max_days_ahead: Annotated[int, msgspec.Meta(ge=0, le=366)] | msgspec.UnsetType = msgspec.UNSET
    min_notice_minutes: Minutes | msgspec.UnsetType = msgspec.UNSET
    cancel_deadline_minutes: Minutes | msgspec.UnsetType = msgspec.UNSET
    max_future_bookings: Annotated[int, msgspec.Meta(ge=0, le=1000)] | msgspec.UnsetType = msgspec.UNSET
    buffer_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] | msgspec.UnsetType = msgspec.UNSET


class SitePatch(SiteRulesIn, forbid_unknown_fields=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=150)] | msgspec.UnsetType = msgspec.UNSET
    kind: SiteKindName | msgspec.UnsetType = msgspec.UNSET
    neighbourhood: Annotated[str, msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=5000)] | msgspec.UnsetType = msgspec.UNSET
    no_show_grace_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] | msgspec.UnsetType = msgspec.UNSET
    # the site's local hour (0-23) from which the day-before e-mail reminders are sent
    reminder_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] | msgspec.UnsetType = msgspec.UNSET


class SiteIn(SitePatch, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    slug: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=150)]


class MachineRulesIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Rules a machine overrides; null puts back the site's default."""

    slot_minutes: SlotMinutes | None | msgspec.UnsetType = msgspec.UNSET
    min_minutes: Positive | None | msgspec.UnsetType = msgspec.UNSET
    max_minutes: Positive | None | msgspec.UnsetType = msgspec.UNSET
    max_days_ahead: Annotated[int, msgspec.Meta(ge=0, le=366)] | None | msgspec.UnsetType = msgspec.UNSET
    min_notice_minutes: Minutes | None | msgspec.UnsetType = msgspec.UNSET
    cancel_deadline_minutes: Minutes | None | msgspec.UnsetType = msgspec.UNSET
    max_future_bookings: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None | msgspec.UnsetType = msgspec.UNSET
    buffer_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] | None | msgspec.UnsetType = msgspec.UNSET


class MachinePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=150)] | msgspec.UnsetType = msgspec.UNSET
    kind: MachineKindName | msgspec.UnsetType = msgspec.UNSET
    status: MachineStatusName | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=5000)] | msgspec.UnsetType = msgspec.UNSET
    specs: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    required_training_id: int | None | msgspec.UnsetType = msgspec.UNSET
    rules: MachineRulesIn | msgspec.UnsetType = msgspec.UNSET


class MachineIn(MachinePatch, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    site: Slug
    slug: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=150)]


class MachineOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    kind: str
    status: str
    site: str
    description: str
    specs: dict[str, Any]
    required_training_id: int | None
    required_training_name: str | None
    rules: RulesOut
    rule_overrides: dict[str, int]
