"""OctoPrint's MQTT plugin: <base>/event/<Event>, <base>/progress/printing, <base>/mqtt.

OctoPrint publishes no job id: a job is named by the Unix second it started (``_timestamp``,
under the contract's clock rule: the arrival time when OctoPrint's clock is far off). A cancel fires
both PrintFailed (reason "cancelled") and PrintCancelled: both mean the same cancelled job.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats.signals import (
    Decoded,
    JobSignal,
    from_unix,
    json_object,
    number,
)


def subscriptions(device_topic: str) -> list[str]:
    return [f"{device_topic}/event/+", f"{device_topic}/progress/printing", f"{device_topic}/mqtt"]


def decode(topic: str, payload: bytes, state: dict, received_at: datetime, tz: ZoneInfo) -> Decoded:
    """``state["job"]`` remembers the running job's key, file and start."""
    if topic.endswith("/mqtt"):
        text = payload.decode("utf-8", "replace").strip()
        if text not in ("connected", "disconnected"):
            raise PayloadRejected(f"mqtt status must be connected or disconnected, not {text[:20]!r}")
        return Decoded(online=text == "connected")
    if topic.endswith("/progress/printing"):
        json_object(payload)
        return Decoded(online=True, busy=True)
    if "/event/" not in topic:
        raise PayloadRejected(f"unexpected OctoPrint topic {topic!r}")
    name = topic.rsplit("/", 1)[-1]
    body = json_object(payload)
    at = from_unix(body["_timestamp"], "_timestamp", received_at) if "_timestamp" in body else received_at
    file = body.get("name") if isinstance(body.get("name"), str) else None
    if name == "PrintStarted":
        key = f"octoprint-{int(at.timestamp())}"
        state["job"] = {"key": key, "file": file, "started_at": at.isoformat()}
        return Decoded(online=True, busy=True, jobs=[JobSignal("job_started", key, at, file=file, started_at=at)])
    if name in ("PrintDone", "PrintFailed", "PrintCancelled"):
        job = state.get("job") or state.get("last_job")
        if not job:
            return Decoded(online=True, busy=False)  # the end of a job we never saw start
        if name == "PrintFailed":
            outcome = "job_cancelled" if body.get("reason") == "cancelled" else "job_failed"
        else:
            outcome = {"PrintDone": "job_finished", "PrintCancelled": "job_cancelled"}[name]
        duration = number(body["time"], "time") if "time" in body else None
        started = datetime.fromisoformat(job["started_at"])
        state["last_job"] = job
        state.pop("job", None)
        return Decoded(online=True, busy=False, error=outcome == "job_failed", jobs=[JobSignal(
            outcome, job["key"], at, file=job.get("file") or file, started_at=started, duration_s=duration)])
    return Decoded(online=True)
