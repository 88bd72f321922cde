"""Tasmota metering plugs (Sonoff POW, Athom…): tele/<t>/SENSOR, tele/<t>/LWT, stat/<t>/POWER.

``Time`` in SENSOR is the plug's local time without zone: it is read in the site's timezone,
under the contract's clock rule (the arrival time when it is missing, unreadable or far off:
a plug with no NTP).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats.signals import Decoded, device_time, json_object, number
from fabbooking.usage.power import Reading


def subscriptions(device_topic: str) -> list[str]:
    return [f"tele/{device_topic}/SENSOR", f"tele/{device_topic}/LWT", f"stat/{device_topic}/POWER"]


def decode(topic: str, payload: bytes, state: dict, received_at: datetime, tz: ZoneInfo) -> Decoded:
    kind = topic.rsplit("/", 1)[-1]
    if kind == "LWT":
        text = payload.decode("utf-8", "replace").strip()
        if text not in ("Online", "Offline"):
            raise PayloadRejected(f"LWT must be Online or Offline, not {text[:20]!r}")
        return Decoded(online=text == "Online")
    if kind == "POWER":
        text = payload.decode("utf-8", "replace").strip().upper()
        if text not in ("ON", "OFF"):
            raise PayloadRejected(f"POWER must be ON or OFF, not {text[:20]!r}")
        return Decoded(online=True, busy=None if text == "ON" else False)
    if kind != "SENSOR":
        raise PayloadRejected(f"unexpected Tasmota topic {topic!r}")
    body = json_object(payload)
    energy = body.get("ENERGY")
    if not isinstance(energy, dict) or "Power" not in energy:
        raise PayloadRejected("SENSOR has no ENERGY.Power")
    power = number(energy["Power"], "ENERGY.Power")
    total = energy.get("Total")
    total_wh = number(total, "ENERGY.Total") * 1000 if total is not None else None
    return Decoded(online=True, reading=Reading(_when(body.get("Time"), received_at, tz), power, total_wh))


def _when(value: object, received_at: datetime, tz: ZoneInfo) -> datetime:
    if not isinstance(value, str):
        return received_at
    try:
        local = datetime.fromisoformat(value)
        moment = (local.replace(tzinfo=tz) if local.tzinfo is None else local).astimezone(received_at.tzinfo)
    except (ValueError, OverflowError):  # not a time, or year 1 / 9999 shifted out of range
        return received_at
    return device_time(moment, received_at)
