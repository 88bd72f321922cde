"""A machine's live state and the device memory kept with it (detector, merged status)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from fabbooking.usage.power import Detector, Reading


@dataclass
class Live:
    machine_id: int
    state: str = "offline"
    last_seen_at: datetime | None = None
    power_w: float | None = None
    device_state: dict = field(default_factory=dict)
    detector: Detector = field(default_factory=Detector)
    exists: bool = False


def _load_json(value: object) -> dict:
    if isinstance(value, dict):
        return value
    try:
        loaded = json.loads(value or "{}")
    except (TypeError, json.JSONDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def detector_to_json(detector: Detector) -> str:
    """Written by hand rather than with dataclasses.asdict: this runs for every machine of
    every batch, and asdict deep-copies."""
    last = detector.last
    return json.dumps({
        "running": detector.running, "started_at": _moment(detector.started_at),
        "start_energy_wh": detector.start_energy_wh, "above_since": _moment(detector.above_since),
        "above_energy_wh": detector.above_energy_wh, "below_since": _moment(detector.below_since),
        "below_energy_wh": detector.below_energy_wh,
        "last": {"at": _moment(last.at), "power_w": last.power_w, "energy_wh": last.energy_wh} if last else None,
    })


def detector_from_json(value: object) -> Detector:
    body = _load_json(value)
    if not body:
        return Detector()

    def moment(text: object) -> datetime | None:
        return datetime.fromisoformat(text) if isinstance(text, str) else None

    last = body.get("last")
    return Detector(
        running=bool(body.get("running")),
        started_at=moment(body.get("started_at")),
        start_energy_wh=body.get("start_energy_wh"),
        above_since=moment(body.get("above_since")),
        above_energy_wh=body.get("above_energy_wh"),
        below_since=moment(body.get("below_since")),
        below_energy_wh=body.get("below_energy_wh"),
        last=Reading(moment(last["at"]), last["power_w"], last.get("energy_wh")) if last else None,
    )


def from_row(machine_id: int, row: dict) -> Live:
    """A machine_live row (as read, JSON as text or parsed) as a Live."""
    return Live(machine_id, row["state"], row["last_seen_at"], row["power_w"],
                _load_json(row["device_state"]), detector_from_json(row["detector"]), exists=True)


def to_row(live: Live) -> dict:
    """A Live as the machine_live row that stores it."""
    return {"machine": live.machine_id, "state": live.state, "last_seen_at": live.last_seen_at,
            "power_w": live.power_w, "device_state": json.dumps(live.device_state),
            "detector": detector_to_json(live.detector)}


def seen(live: Live, at: datetime) -> bool:
    """Record that the machine spoke at ``at``; False when that is older than what we know
    (an out-of-order message must not turn a newer state back)."""
    if live.last_seen_at is not None and at < live.last_seen_at:
        return False
    live.last_seen_at = at
    return True
