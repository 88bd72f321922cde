"""What a device message means for a machine, whatever the device."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.contract import json_object as contract_json_object
from fabbooking.usage.power import Reading


@dataclass(frozen=True)
class JobSignal:
    event: str  # job_started | job_finished | job_failed | job_cancelled
    key: str
    at: datetime
    file: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    filament_mm: float | None = None


@dataclass(frozen=True)
class Decoded:
    """The meaning of one device message."""

    online: bool | None = None  # the device said it is (or is no longer) connected
    reading: Reading | None = None  # a power/energy reading (metering plugs)
    jobs: list[JobSignal] = field(default_factory=list)  # printers report jobs themselves
    busy: bool | None = None  # printing / relay on, when known
    error: bool = False


def message_id(topic: str, payload: bytes) -> str:
    """Devices send no message id; the same message delivered twice gets the same one."""
    return hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()[:32]


def json_object(payload: bytes, limit: int = 64 * 1024) -> dict:
    """Device messages may be larger than contract events (a full Shelly status)."""
    return contract_json_object(payload, limit)


def number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise PayloadRejected(f"{name} must be a number")
    return float(value)


def from_unix(value: object, name: str) -> datetime:
    seconds = number(value, name)
    if not 0 < seconds < 1e11:
        raise PayloadRejected(f"{name} is not a Unix time")
    return datetime.fromtimestamp(seconds, UTC)
