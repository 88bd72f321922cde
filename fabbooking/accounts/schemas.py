from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""


class TokenRequest(Credentials, forbid_unknown_fields=True):
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] | None = None


class TokenOut(msgspec.Struct):
    token: str
    id: int | None = None
    expires_at: datetime | None = None


class TokenInfo(msgspec.Struct):
    """A token as its owner sees it later: never the secret itself."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current: Password
    new: Password


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


class SignUpIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new maker account, made by the person themselves."""

    username: Username
    password: Password
    accept_rules: bool
    email: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    language: Literal["fr", "en"] = "fr"


class ResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    who: Annotated[str, msgspec.Meta(min_length=1, max_length=255, description="A username or an e-mail.")]


class ResetConfirm(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    new: Password


class Notice(msgspec.Struct):
    detail: str


class DeletionConfirm(msgspec.Struct, forbid_unknown_fields=True):
    password: Password
