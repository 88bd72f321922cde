"""Shelly Gen2/Gen3 plugs: <p>/status/switch:0 (the component's full status), <p>/events/rpc
(RPC notifications: NotifyFullStatus carries every component's full status, NotifyStatus
the changed fields, laid over the last full status), <p>/online (true/false).

Notifications are dated by ``params.ts`` under the contract's clock rule; statuses by arrival."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats.signals import Decoded, from_unix, json_object, number
from fabbooking.usage.power import Reading

COMPONENT = "switch:0"


def subscriptions(device_topic: str) -> list[str]:
    return [f"{device_topic}/status/{COMPONENT}", f"{device_topic}/events/rpc", f"{device_topic}/online"]


def decode(topic: str, payload: bytes, state: dict, received_at: datetime, tz: ZoneInfo) -> Decoded:
    """``state["switch"]`` keeps the merged component status between messages."""
    if topic.endswith("/online"):
        text = payload.decode("utf-8", "replace").strip()
        if text not in ("true", "false"):
            raise PayloadRejected(f"online must be true or false, not {text[:20]!r}")
        return Decoded(online=text == "true")
    body = json_object(payload)
    at = received_at
    if topic.endswith(f"/status/{COMPONENT}"):
        status = body
    elif topic.endswith("/events/rpc"):
        method = body.get("method")
        if method not in ("NotifyStatus", "NotifyFullStatus"):
            return Decoded()  # NotifyEvent (button pushes, scripts…) says nothing about usage
        params = body.get("params")
        if not isinstance(params, dict):
            raise PayloadRejected(f"{method} without params")
        if not isinstance(params.get(COMPONENT), dict):
            return Decoded()  # another component changed (wifi, sys…)
        if "ts" in params:
            at = from_unix(params["ts"], "params.ts", received_at)
        full = method == "NotifyFullStatus"
        status = params[COMPONENT] if full else _overlay(state.get("switch", {}), params[COMPONENT])
    else:
        raise PayloadRejected(f"unexpected Shelly topic {topic!r}")
    state["switch"] = status
    if "apower" not in status:
        return Decoded(online=True)
    power = number(status["apower"], "apower")
    aenergy = status.get("aenergy")
    total = number(aenergy["total"], "aenergy.total") if isinstance(aenergy, dict) and "total" in aenergy else None
    return Decoded(online=True, reading=Reading(at, power, total))


def _overlay(base: dict, partial: dict) -> dict:
    merged = dict(base)
    for key, value in partial.items():
        merged[key] = _overlay(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged
