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
    # the device memory as stored, left unread for a machine whose gateway speaks the
    # contract (it has none): written back as it was
    stored_memory: tuple[object, object] | None = None


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


def from_row(machine_id: int, row: dict, device_memory: bool = True) -> Live:
    """A machine_live row (as read, JSON as text or parsed) as a Live; without
    ``device_memory``, its device state and detector are kept unread."""
    if not device_memory:
        return Live(machine_id, row["state"], row["last_seen_at"], row["power_w"],
                    stored_memory=(row["device_state"], row["detector"]))
    return Live(machine_id, row["state"], row["last_seen_at"], row["power_w"],
                _load_json(row["device_state"]), detector_from_json(row["detector"]))


def to_row(live: Live) -> dict:
    """A Live as the machine_live row that stores it."""
    if live.stored_memory is not None:
        device_state, detector = live.stored_memory
    else:
        device_state, detector = json.dumps(live.device_state), detector_to_json(live.detector)
    return {"machine": live.machine_id, "state": live.state, "last_seen_at": live.last_seen_at,
            "power_w": live.power_w, "device_state": device_state, "detector": detector}


def seen(live: Live, at: datetime) -> bool:
    """Record that the machine spoke at ``at``; False when that is older than what we know
    (an out-of-order message must not turn a newer state back)."""
    if live.last_seen_at is not None and at < live.last_seen_at:
        return False
    live.last_seen_at = at
    return True
