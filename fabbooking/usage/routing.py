"""Which machine a device topic belongs to, and what the listener subscribes to. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from fabbooking.usage.contract import ROOT
from fabbooking.usage.formats import klipper, octoprint, shelly, tasmota

DECODERS = {"tasmota": tasmota, "shelly": shelly, "octoprint": octoprint, "klipper": klipper}
# Messages that only set a state: applying one twice is harmless, and the same payload
# (POWER OFF, online false) recurs legitimately, so they are never deduplicated.
STATE_ONLY_SUFFIXES = ("/LWT", "/POWER", "/online", "/mqtt", "/moonraker/status")


@dataclass(frozen=True)
class DeviceRoute:
    machine_id: int
    format: str
    device_topic: str


def contract_subscriptions(share_group: str | None) -> list[str]:
    """Events go through a shared subscription (several listeners split the load); retained
    gateway status is read by every listener, so it is subscribed without $share."""
    events = f"{ROOT}/+/+/+/event"
    return [f"$share/{share_group}/{events}" if share_group else events, f"{ROOT}/+/+/status"]


def device_subscriptions(routes: list[DeviceRoute], share_group: str | None) -> list[str]:
    topics = []
    for route in routes:
        for topic in DECODERS[route.format].subscriptions(route.device_topic):
            state_only = topic.endswith(STATE_ONLY_SUFFIXES)
            topics.append(topic if state_only or not share_group else f"$share/{share_group}/{topic}")
    return topics


def route_for(topic: str, routes: list[DeviceRoute]) -> DeviceRoute | None:
    for route in routes:
        base = route.device_topic
        if route.format == "tasmota":
            if topic in (f"tele/{base}/SENSOR", f"tele/{base}/LWT", f"stat/{base}/POWER"):
                return route
        elif topic.startswith(base + "/"):
            return route
    return None


def is_state_only(topic: str) -> bool:
    return topic.endswith(STATE_ONLY_SUFFIXES)
