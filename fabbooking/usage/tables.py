"""Machine usage as the machines report it: gateways, telemetry settings, received
messages (for idempotency), usage sessions, live state, dead letters, maintenance plans."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    Float,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Machine, Site


class DeviceFormat(str, Enum):
    contract = "contract"  # a gateway speaking Fabbooking's contract v1
    tasmota = "tasmota"
    shelly = "shelly"
    octoprint = "octoprint"
    klipper = "klipper"


class Outcome(str, Enum):
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


class LiveState(str, Enum):
    offline = "offline"
    idle = "idle"
    busy = "busy"
    error = "error"


class Gateway(Table, tablename="gateway"):
    """A small computer (or a broker bridge) publishing for some machines of one site.
    ``ident`` is its MQTT username and its topic level."""

    ident = Varchar(length=64, unique=True)
    site = ForeignKey(Site, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=150, default="")
    mqtt_password_hash = Varchar(length=255, default="", secret=True)  # Mosquitto password-file format
    state = Varchar(length=10, default="unknown")
    last_seen_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Telemetry(Table, tablename="telemetry"):
    """How a machine reports its use: through a gateway (contract), or its own device format
    on ``device_topic``. Power thresholds serve metering plugs."""

    machine = ForeignKey(Machine, null=False, unique=True, on_delete=OnDelete.cascade)
    format = Varchar(length=20, choices=DeviceFormat, default=DeviceFormat.contract)
    gateway = ForeignKey(Gateway, null=True, default=None, on_delete=OnDelete.set_null)
    device_topic = Varchar(length=200, default="", index=True)
    start_w = Float(default=50.0)
    idle_w = Float(default=20.0)
    start_after_s = Integer(default=30)
    stop_after_s = Integer(default=120)


class ReceivedMessage(Table, tablename="received_message"):
    """Every message taken into account, by source and message id: a redelivered or
    replayed message finds its key here and changes nothing."""

    key = Varchar(length=200, unique=True)
    received_at = Timestamptz(default=TimestamptzNow())


class UsageSession(Table, tablename="usage_session"):
    """One job on one machine, from the machine's own report. ``key`` is machine id and job
    key, so every report about a job updates the same row."""

    key = Varchar(length=200, unique=True)
    machine = ForeignKey(Machine, null=False, index=True, on_delete=OnDelete.restrict)
    job_key = Varchar(length=128)
    started_at = Timestamptz(null=True, default=None, index=True)
    ended_at = Timestamptz(null=True, default=None)
    duration_s = Float(null=True, default=None)
    outcome = Varchar(length=20, choices=Outcome, default=Outcome.running)
    energy_wh = Float(null=True, default=None)
    material_kind = Varchar(length=64, default="")
    material_grams = Float(null=True, default=None)
    material_length_mm = Float(null=True, default=None)
    file_name = Varchar(length=255, default="")
    booking = ForeignKey(Booking, null=True, default=None, on_delete=OnDelete.set_null)
    walk_in = Boolean(default=False)
    overrun = Boolean(default=False)
    replayed = Boolean(default=False)


class MachineLive(Table, tablename="machine_live"):
    """A machine's live state, and what its device decoders remember between messages."""

    machine = ForeignKey(Machine, null=False, unique=True, on_delete=OnDelete.cascade)
    state = Varchar(length=10, choices=LiveState, default=LiveState.offline)
    last_seen_at = Timestamptz(null=True, default=None)
    power_w = Float(null=True, default=None)
    device_state = JSON(default="{}")
    detector = JSON(default="{}")


class DeadLetter(Table, tablename="dead_letter"):
    """A message that could not be used: the reason, and the first bytes of it."""

    received_at = Timestamptz(default=TimestamptzNow(), index=True)
    topic = Varchar(length=255)
    reason = Text()
    payload = Bytea(default=b"")
    size = Integer(default=0)


class MaintenancePlan(Table, tablename="maintenance_plan"):
    """« Clean the laser lens every 20 h »: due when the machine has run ``every_hours``
    since ``done_at``."""

    machine = ForeignKey(Machine, null=False, index=True, on_delete=OnDelete.cascade)
    task = Varchar(length=200)
    every_hours = Float()
    done_at = Timestamptz(default=TimestamptzNow())
