"""Klipper through Moonraker's [mqtt] section: <i>/klipper/status (changed fields only, merged
here) and <i>/moonraker/status. print_stats.state: standby | printing | paused | complete |
error | cancelled. ``eventtime`` is Klipper's own clock, so arrival time dates the changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats.signals import Decoded, JobSignal, json_object, number

STATES = ("standby", "printing", "paused", "complete", "error", "cancelled")
ENDINGS = {"complete": "job_finished", "error": "job_failed", "cancelled": "job_cancelled"}


def subscriptions(device_topic: str) -> list[str]:
    return [f"{device_topic}/klipper/status", f"{device_topic}/moonraker/status"]


def decode(topic: str, payload: bytes, state: dict, received_at: datetime, tz: ZoneInfo) -> Decoded:
    body = json_object(payload)
    if topic.endswith("/moonraker/status"):
        server = body.get("server")
        if server not in ("online", "offline"):
            raise PayloadRejected(f"server must be online or offline, not {str(server)[:20]!r}")
        return Decoded(online=server == "online")
    if not topic.endswith("/klipper/status"):
        raise PayloadRejected(f"unexpected Moonraker topic {topic!r}")
    status = body.get("status")
    if not isinstance(status, dict):
        raise PayloadRejected("status must be an object")
    stats = status.get("print_stats")
    if not isinstance(stats, dict):
        return Decoded(online=True)
    known = {**state.get("print_stats", {}), **stats}
    new_state = known.get("state")
    if new_state not in STATES:
        raise PayloadRejected(f"unknown print_stats.state {str(new_state)[:20]!r}")
    before = state.get("print_stats", {}).get("state")
    state["print_stats"] = known
    jobs = []
    if new_state == "printing" and before not in ("printing", "paused"):
        key = f"klipper-{int(received_at.timestamp())}"
        state["job"] = {"key": key, "file": known.get("filename"), "started_at": received_at.isoformat()}
        jobs.append(JobSignal("job_started", key, received_at, file=known.get("filename"), started_at=received_at))
    elif new_state in ENDINGS and before in ("printing", "paused") and state.get("job"):
        job = state.pop("job")
        duration = number(known["print_duration"], "print_duration") if "print_duration" in known else None
        filament = number(known["filament_used"], "filament_used") if "filament_used" in known else None
        jobs.append(JobSignal(ENDINGS[new_state], job["key"], received_at, file=job.get("file"),
                              started_at=datetime.fromisoformat(job["started_at"]), duration_s=duration,
                              filament_mm=filament))
    return Decoded(online=True, busy=new_state in ("printing", "paused"), error=new_state == "error", jobs=jobs)
