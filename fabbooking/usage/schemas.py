from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

FormatName = Literal["contract", "tasmota", "shelly", "octoprint", "klipper"]
Watts = Annotated[float, msgspec.Meta(ge=0, le=100_000)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=86_400)]


class TelemetryIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    format: FormatName | msgspec.UnsetType = msgspec.UNSET
    gateway: str | None | msgspec.UnsetType = msgspec.UNSET
    device_topic: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    start_w: Watts | msgspec.UnsetType = msgspec.UNSET
    idle_w: Watts | msgspec.UnsetType = msgspec.UNSET
    start_after_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    stop_after_s: Seconds | msgspec.UnsetType = msgspec.UNSET


class TelemetryOut(msgspec.Struct):
    machine_id: int
    format: str
    gateway: str | None
    device_topic: str
    start_w: float
    idle_w: float
    start_after_s: int
    stop_after_s: int


class RunningJob(msgspec.Struct):
    job_key: str
    started_at: datetime | None
    file_name: str


class MachineStatusOut(msgspec.Struct):
    machine_id: int
    reports_usage: bool
    state: Literal["offline", "idle", "busy", "error", "unknown"]
    last_seen: datetime | None
    power_w: float | None
    running_job: RunningJob | None
    run_hours: float
    jobs: int


class UsageSessionOut(msgspec.Struct):
    id: int
    machine_id: int
    machine_name: str
    site: str
    job_key: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    outcome: str
    energy_wh: float | None
    material_kind: str
    material_grams: float | None
    material_length_mm: float | None
    file_name: str
    booking_id: int | None
    maker_id: int | None
    maker_username: str | None
    walk_in: bool
    overrun: bool


class GatewayIn(msgspec.Struct, forbid_unknown_fields=True):
    site: str
    ident: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name: Annotated[str, msgspec.Meta(max_length=150)] = ""


class GatewayOut(msgspec.Struct):
    ident: str
    site: str
    name: str
    state: str
    last_seen: datetime | None
    mqtt_password: str | None = None  # only in the answer to its creation


class DeadLetterOut(msgspec.Struct):
    id: int
    received_at: datetime
    topic: str
    reason: str
    size: int


class DeadLettersOut(msgspec.Struct):
    total: int
    latest: list[DeadLetterOut]


class MaintenancePlanIn(msgspec.Struct, forbid_unknown_fields=True):
    task: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    every_hours: Annotated[float, msgspec.Meta(gt=0, le=100_000)]


class MaintenancePlanOut(msgspec.Struct):
    id: int
    machine_id: int
    task: str
    every_hours: float
    done_at: datetime
    hours_since: float
    due: bool
