"""The JSON shapes of /api/v1/projects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

Title = Annotated[str, msgspec.Meta(max_length=200)]
Summary = Annotated[str, msgspec.Meta(max_length=1000)]
Body = Annotated[str, msgspec.Meta(max_length=50_000)]
Choice = Annotated[str, msgspec.Meta(max_length=40)]
Tags = Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)]


class ProjectIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    summary: Summary = ""
    body: Body = ""
    status: Choice = "idea"
    licence: Annotated[str, msgspec.Meta(description="CC-BY-SA-4.0 (default), CC-BY-4.0, CC0-1.0, "
                                         "CC-BY-NC-SA-4.0, all-rights-reserved")] = "CC-BY-SA-4.0"
    visibility: Annotated[str, msgspec.Meta(description="public | members | private")] = "public"
    tags: Tags = []
    site_id: int | None = None


class ProjectPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    summary: Summary | msgspec.UnsetType = msgspec.UNSET
    body: Body | msgspec.UnsetType = msgspec.UNSET
    status: Choice | msgspec.UnsetType = msgspec.UNSET
    licence: Choice | msgspec.UnsetType = msgspec.UNSET
    visibility: Choice | msgspec.UnsetType = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    site_id: int | None | msgspec.UnsetType = msgspec.UNSET


class MediaOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    content_type: str
    size: int
    alt: str
    is_cover: bool
    step_id: int | None
    url: str
    thumbnail_url: str | None
    width: int | None = None
    height: int | None = None


class StepIn(msgspec.Struct, forbid_unknown_fields=True):
    happened_on: date
    title: Title = ""
    body: Body = ""


class StepOut(msgspec.Struct):
    id: int
    happened_on: date
    title: str
    body: str
    body_html: str
    media: list[MediaOut] = []


class MemberIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=150)]
    role: Annotated[str, msgspec.Meta(description="owner | collaborator")] = "collaborator"


class MemberOut(msgspec.Struct):
    credit: str
    role: str
    account_id: Annotated[int | None, msgspec.Meta(description="Only for the project's members.")] = None
    username: Annotated[str | None, msgspec.Meta(description="Only for the project's members.")] = None


class SiteRef(msgspec.Struct):
    slug: str
    name: str


class FiguresOut(msgspec.Struct):
    used_minutes: int
    booked_minutes: int
    bookings: int
    jobs: int
    energy_wh: float
    material_grams: float
    material_length_m: float
    sites: list[SiteRef]


class ProjectSummaryOut(msgspec.Struct):
    slug: str
    title: str
    summary: str
    status: str
    licence: str
    visibility: str
    tags: list[str]
    updated_at: datetime
    cover_thumbnail_url: str | None


class ProjectListOut(msgspec.Struct):
    total: int
    page: int
    per_page: int
    items: list[ProjectSummaryOut]


class ProjectOut(msgspec.Struct):
    slug: str
    title: str
    summary: str
    body: str
    body_html: str
    status: str
    licence: str
    visibility: str
    tags: list[str]
    site: str | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None
    your_role: str | None
    members: list[MemberOut]
    steps: list[StepOut]
    files: list[MediaOut]
    cover: MediaOut | None
    figures: FiguresOut


class AttachBookingIn(msgspec.Struct, forbid_unknown_fields=True):
    booking_id: int


class AttachUsageIn(msgspec.Struct, forbid_unknown_fields=True):
    session_id: int
