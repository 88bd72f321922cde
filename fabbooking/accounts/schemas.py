from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""


class TokenOut(msgspec.Struct):
    token: str


class QualificationOut(msgspec.Struct):
    id: int
    training_id: int
    training_slug: str
    training_name: str
    granted_on: date
    expires_on: date | None
    granted_at_site: str


class AccountOut(msgspec.Struct):
    id: int
    username: str
    display_name: str
    role: str
    language: str
    email: str | None = None
    staff_of: list[str] = []
    qualifications: list[QualificationOut] = []


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password
    role: Literal["maker", "animator", "admin"] = "maker"
    email: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=120)] = ""
    language: Literal["fr", "en"] = "fr"
    sites: list[str] = []
