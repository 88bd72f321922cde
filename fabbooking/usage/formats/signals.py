"""What a device message means for a machine, whatever the device."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fabbooking.usage.contract import PayloadRejected, clock_problem
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
    """A finite number (JSON lets through NaN and Infinity, which no reading can be)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PayloadRejected(f"{name} must be a number")
    return float(value)


def device_time(claimed: datetime | None, received_at: datetime) -> datetime:
    """When a device says something happened, under the contract's clock rule: a device
    clock too far from the arrival time (no NTP yet, a flat battery, a bug) would freeze the
    machine (every later reading looks old) or start a job that never ends, so the arrival
    time is used instead. A plug cannot be fixed the way a gateway can: its messages still count."""
    if claimed is None or clock_problem(claimed, received_at):
        return received_at
    return claimed


def from_unix(value: object, name: str, received_at: datetime) -> datetime:
    """A device's Unix time (seconds, UTC), by the clock rule of ``device_time``."""
    seconds = number(value, name)
    if abs(seconds - received_at.timestamp()) > 1e10:  # centuries off: beyond what datetime holds
        return received_at
    return device_time(datetime.fromtimestamp(seconds, UTC), received_at)
