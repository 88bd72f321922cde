"""JSON shapes of the workshops API. Head counts are plain integers here on purpose: the
workshop rules check them and say clearly what is wrong (a negative count, more first-timers
than people, an unknown audience)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

Moment = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with an offset")]
AUDIENCE_DOC = ("children | teens | adults | seniors | job_seekers | school_groups | other")


class HeadCountIn(msgspec.Struct, forbid_unknown_fields=True):
    audience: Annotated[str, msgspec.Meta(description=AUDIENCE_DOC)]
    head_count: int
    first_timers: int = 0


class WorkshopIn(msgspec.Struct, forbid_unknown_fields=True):
    """A workshop to plan (upcoming, machines held) at the site ``site``."""

    site: str
    title: str
    start: Moment
    end: Moment
    theme: str = ""
    description: str = ""
    public: bool = True
    registration: bool = False
    capacity: int | None = None
    notes: str = ""
    animator_ids: list[int] = msgspec.field(default_factory=list)
    machine_ids: list[int] = msgspec.field(default_factory=list)


class LoggedWorkshopIn(msgspec.Struct, forbid_unknown_fields=True):
    """A workshop that took place, logged after the fact (never on the public calendar)."""

    site: str
    title: str
    start: Moment
    end: Moment
    attendance: list[HeadCountIn]
    theme: str = ""
    description: str = ""
    notes: str = ""
    animator_ids: list[int] = msgspec.field(default_factory=list)
    machine_ids: list[int] = msgspec.field(default_factory=list)


class WorkshopPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change. New times or machines move the machine holds."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    start: Moment | msgspec.UnsetType = msgspec.UNSET
    end: Moment | msgspec.UnsetType = msgspec.UNSET
    theme: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    public: bool | msgspec.UnsetType = msgspec.UNSET
    registration: bool | msgspec.UnsetType = msgspec.UNSET
    capacity: int | None | msgspec.UnsetType = msgspec.UNSET
    notes: str | msgspec.UnsetType = msgspec.UNSET
    animator_ids: list[int] | msgspec.UnsetType = msgspec.UNSET
    machine_ids: list[int] | msgspec.UnsetType = msgspec.UNSET


class AttendanceIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who came, per audience; the machines used (replaces the list when sent); notes."""

    attendance: list[HeadCountIn]
    machine_ids: list[int] | None = None
    notes: str | None = None


class RegistrationIn(msgspec.Struct, forbid_unknown_fields=True):
    """Empty to register yourself; ``name`` (the site's team only) to register a person
    who has no account."""

    name: str | None = None


class HeadCountOut(msgspec.Struct):
    audience: str
    head_count: int
    first_timers: int


class MachineUsedOut(msgspec.Struct):
    machine_id: int
    name: str
    booking_id: int | None


class AnimatorOut(msgspec.Struct):
    account_id: int
    name: str


class WorkshopOut(msgspec.Struct):
    """``notes``, ``animators`` and ``attendance`` are the site's team's only: null for
    everyone else."""

    id: int
    site: str
    site_name: str
    title: str
    theme: str
    description: str
    start: datetime
    end: datetime
    status: str
    public: bool
    registration: bool
    capacity: int | None
    registered: int
    waiting: int
    places_left: int | None
    machines: list[MachineUsedOut] | None = None
    notes: str | None = None
    animators: list[AnimatorOut] | None = None
    attendance: list[HeadCountOut] | None = None
    series_id: int | None = None  # the recurring workshop it is a date of (site's team only)


class RegistrationOut(msgspec.Struct):
    id: int
    workshop_id: int
    status: str
    created_at: datetime
    cancelled_at: datetime | None
    name: str | None = None  # for the site's team and the person themselves
    account_id: int | None = None


class MyRegistrationOut(msgspec.Struct):
    id: int
    workshop_id: int
    workshop_title: str
    site_name: str
    start: datetime
    end: datetime
    workshop_status: str
    status: str


class SeriesIn(msgspec.Struct, forbid_unknown_fields=True):
    """A workshop planned again and again at the site ``site``. ``start`` and ``end`` are
    the first workshop's (for ``dates``: only their local times count); every date keeps the
    same local times, across the daylight-saving changes. ``frequency``: ``weekly``,
    ``fortnightly`` (until ``until``, included) or ``dates`` (the days of ``dates``). At most
    52 workshops over a year. ``dry_run``: only list every date and its conflicts.
    ``on_conflict``: ``refuse`` (all or nothing) or ``skip`` (leave out the dates in
    conflict)."""

    site: str
    title: str
    start: Moment
    end: Moment
    frequency: Annotated[str, msgspec.Meta(description="weekly | fortnightly | dates")]
    until: date | None = None
    dates: list[date] = msgspec.field(default_factory=list)
    dry_run: bool = False
    on_conflict: Annotated[str, msgspec.Meta(description="refuse | skip")] = "refuse"
    theme: str = ""
    description: str = ""
    public: bool = True
    registration: bool = False
    capacity: int | None = None
    notes: str = ""
    animator_ids: list[int] = msgspec.field(default_factory=list)
    machine_ids: list[int] = msgspec.field(default_factory=list)


class ConflictOut(msgspec.Struct):
    """Why a machine cannot be held on that date: taken (``holder`` says by whom: a
    person's name or a workshop) or refused by a booking rule (``code``, ``detail``)."""

    machine_id: int
    machine_name: str
    code: str
    detail: str
    holder: str | None
    booking_id: int | None


class SeriesDateOut(msgspec.Struct):
    day: date
    start: datetime
    end: datetime
    conflicts: list[ConflictOut] = msgspec.field(default_factory=list)
    workshop_id: int | None = None  # once planned
    status: str | None = None


class SeriesOut(msgspec.Struct):
    """A preview (``id`` null: nothing written) or a planned series and its workshops."""

    id: int | None
    site: str
    title: str
    frequency: str
    until: date | None
    cancelled_at: datetime | None
    dates: list[SeriesDateOut]
    conflicting_dates: int = 0
