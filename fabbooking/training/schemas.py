from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from fabbooking.network.schemas import MachineKindName, Slug


class TrainingIn(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=150)]
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    unlocks_kinds: list[MachineKindName] = []


class TrainingOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    description: str
    unlocks_kinds: list[str]


class QualificationIn(msgspec.Struct, forbid_unknown_fields=True):
    maker_id: int
    training_id: int
    expires_on: date | None = None
    site: Slug | None = None
