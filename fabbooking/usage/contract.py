"""MQTT contract v1 between device gateways and Fabbooking. Pure: no I/O.

Topics:
  fablab/v1/<site>/<gateway>/<machine>/event   QoS 1, not retained: one usage event
  fablab/v1/<site>/<gateway>/status            QoS 1, retained: {"state": "ready" | "lost"}

The server and the gateways in ``devices/`` both use this module, so they cannot drift
apart. ``docs/mqtt.md`` describes the same contract for gateway authors.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

VERSION = 1
ROOT = "fablab/v1"
EVENTS = ("job_started", "job_finished", "job_failed", "job_cancelled", "job_interrupted", "power_on",
          "power_off", "heartbeat")
JOB_EVENTS = ("job_started", "job_finished", "job_failed", "job_cancelled", "job_interrupted")
GATEWAY_STATES = ("ready", "lost")
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_NESTING = 32  # an event nests 3 levels deep (event, job, material)
MAX_CLOCK_AHEAD = timedelta(minutes=5)
MAX_AGE = timedelta(days=30)
_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# what an identifier may not hold: control characters (PostgreSQL cannot store NUL) and lone
# surrogates (no database encodes them)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class PayloadRejected(ValueError):
    """The message breaks the contract; ``reason`` says how (it goes to the dead letters)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Address:
    site: str
    gateway: str
    machine: str | None  # None for a gateway's status topic

    @property
    def is_status(self) -> bool:
        return self.machine is None


def valid_segment(value: str) -> bool:
    """Site, gateway and machine ids: lowercase letters, digits, '-' and '_' (a whole topic level)."""
    return bool(_SEGMENT.match(value))


def event_topic(site: str, gateway: str, machine: str) -> str:
    return f"{ROOT}/{site}/{gateway}/{machine}/event"


def status_topic(site: str, gateway: str) -> str:
    return f"{ROOT}/{site}/{gateway}/status"


@lru_cache(maxsize=4096)  # a network's topics repeat; an Address is immutable
def parse_topic(topic: str) -> Address | None:
    parts = topic.split("/")
    if parts[:2] != ROOT.split("/"):
        return None
    rest = parts[2:]
    if len(rest) == 4 and rest[3] == "event" and all(valid_segment(p) for p in rest[:3]):
        return Address(rest[0], rest[1], rest[2])
    if len(rest) == 3 and rest[2] == "status" and all(valid_segment(p) for p in rest[:2]):
        return Address(rest[0], rest[1], None)
    return None


@dataclass(frozen=True)
class Material:
    kind: str
    grams: float | None = None
    length_mm: float | None = None


@dataclass(frozen=True)
class Job:
    key: str
    file: str | None = None
    started_at: datetime | None = None
    duration_s: float | None = None
    material: Material | None = None


@dataclass(frozen=True)
class UsageEvent:
    msg_id: str
    ts: datetime
    event: str
    job: Job | None = None
    energy_wh: float | None = None
    replay: bool = False
    extra: dict = field(default_factory=dict, compare=False)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_event(event: UsageEvent) -> bytes:
    """The JSON payload of an event, as gateways publish it."""
    body: dict = {"v": VERSION, "msg_id": event.msg_id, "ts": _iso(event.ts), "event": event.event}
    if event.job is not None:
        job = {k: v for k, v in asdict(event.job).items() if v is not None}
        if event.job.started_at is not None:
            job["started_at"] = _iso(event.job.started_at)
        if event.job.material is not None:
            job["material"] = {k: v for k, v in asdict(event.job.material).items() if v is not None}
        body["job"] = job
    if event.energy_wh is not None:
        body["energy_wh"] = event.energy_wh
    if event.replay:
        body["replay"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def build_status(state: str, **details: object) -> bytes:
    return json.dumps({"state": state, **details}, separators=(",", ":")).encode()


def json_object(payload: bytes, limit: int = MAX_PAYLOAD_BYTES) -> dict:
    """Decode a JSON object from MQTT bytes, refusing (never crashing on) anything else."""
    if len(payload) > limit:
        raise PayloadRejected(f"payload too large ({len(payload)} bytes, at most {limit})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadRejected(f"not JSON: {exc}") from None
    # json.loads recurses once per level: 16 KiB of "[" would reach Python's recursion limit
    if text.count("[") + text.count("{") > MAX_NESTING and json_depth(text) > MAX_NESTING:
        raise PayloadRejected(f"not JSON we accept: nested deeper than {MAX_NESTING} levels")
    try:
        body = json.loads(text)
    except ValueError as exc:  # also a number of more than 4300 digits
        raise PayloadRejected(f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise PayloadRejected("JSON must be an object")
    return body


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def clock_problem(moment: datetime, arrival: datetime) -> str | None:
    """The one clock rule, for gateways and devices alike: a moment a message gives may be at
    most MAX_CLOCK_AHEAD after its arrival and at most MAX_AGE before it. Says how it is off."""
    if moment > arrival + MAX_CLOCK_AHEAD:
        return f"is in the future ({_iso(moment)})"
    if moment < arrival - MAX_AGE:
        return f"is too old ({_iso(moment)})"
    return None


def _moment(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadRejected(f"{name} must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadRejected(f"{name} is not ISO 8601: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise PayloadRejected(f"{name} has no timezone (send UTC, ending in Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00, 9999-12-31T23:00-05:00
        raise PayloadRejected(f"{name} is out of range: {value[:40]!r}") from None


def _number(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise PayloadRejected(f"{name} must be a number ≥ 0")
    if value > 1e12:
        raise PayloadRejected(f"{name} is implausibly large")
    return float(value)


def _text(value: object, name: str, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadRejected(f"{name} must be a string")
    return value[:limit]


def _identifier(value: object, name: str) -> str:
    """msg_id and job.key become database keys: printable text only (no control character,
    which PostgreSQL cannot store as NUL, and no lone surrogate, which no database encodes)."""
    if not isinstance(value, str) or not value or len(value) > 128:
        raise PayloadRejected(f"{name} must be a non-empty string (at most 128 characters)")
    if _UNPRINTABLE.search(value):
        raise PayloadRejected(f"{name} must be printable text (no control character)")
    return value


def _job(value: object) -> Job | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadRejected("job must be an object")
    key = _identifier(value.get("key"), "job.key")
    material = value.get("material")
    if material is not None:
        if not isinstance(material, dict) or not isinstance(material.get("kind"), str):
            raise PayloadRejected("job.material must be an object with a kind")
        material = Material(kind=material["kind"][:64],
                            grams=_number(material.get("grams"), "job.material.grams"),
                            length_mm=_number(material.get("length_mm"), "job.material.length_mm"))
    started = value.get("started_at")
    return Job(
        key=key,
        file=_text(value.get("file"), "job.file"),
        started_at=_moment(started, "job.started_at") if started is not None else None,
        duration_s=_number(value.get("duration_s"), "job.duration_s"),
        material=material,
    )


def parse_event(payload: bytes, now: datetime) -> UsageEvent:
    """Decode and check one event; raise PayloadRejected with the reason otherwise."""
    body = json_object(payload)
    version = body.get("v")
    if type(version) is not int or version != VERSION:  # noqa: E721 - true == 1 in Python, not a version
        raise PayloadRejected(f"unsupported contract version {str(version)[:40]!r} (expected the integer {VERSION})")
    msg_id = _identifier(body.get("msg_id"), "msg_id")
    event = body.get("event")
    if event not in EVENTS:
        raise PayloadRejected(f"unknown event {str(event)[:40]!r}")
    ts = _moment(body.get("ts"), "ts")
    off = clock_problem(ts, now)
    if off:
        raise PayloadRejected(f"ts {off}; check the gateway's clock")
    job = _job(body.get("job"))
    if event in JOB_EVENTS and job is None:
        raise PayloadRejected(f"{event} needs a job")
    replay = body.get("replay", False)
    if not isinstance(replay, bool):
        raise PayloadRejected("replay must be true or false")
    return UsageEvent(msg_id=msg_id, ts=ts, event=event, job=job,
                      energy_wh=_number(body.get("energy_wh"), "energy_wh"), replay=replay)


def parse_status(payload: bytes) -> str:
    """The gateway's state from its retained status message."""
    body = json_object(payload)
    state = body.get("state")
    if state not in GATEWAY_STATES:
        raise PayloadRejected(f"status state must be ready or lost, not {str(state)[:20]!r}")
    return state
