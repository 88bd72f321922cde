"""Tasmota metering plugs (Sonoff POW, Athom…): tele/<t>/SENSOR, tele/<t>/LWT, stat/<t>/POWER.

``Time`` in SENSOR is the plug's local time without zone: it is read in the site's timezone,
and the arrival time is used when it is missing or far off (a plug with no NTP).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats.signals import Decoded, json_object, number
from fabbooking.usage.power import Reading

MAX_CLOCK_SKEW = timedelta(minutes=10)


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
    if isinstance(value, str):
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            return received_at
        moment = local.replace(tzinfo=tz) if local.tzinfo is None else local
        if abs(moment - received_at) <= MAX_CLOCK_SKEW:
            return moment
    return received_at
