"""Which machine a device topic belongs to, and what the listener subscribes to. Pure.

A device topic names one device exactly. A wildcard in it (``lab/#``, ``a+b``) would make
paho refuse the listener's subscriptions, and a control character makes Mosquitto drop the
connection: such topics are refused when they are set, and skipped if one is found in the
database anyway (``unusable_routes``), so that one bad topic never stops the others."""

from __future__ import annotations

from dataclasses import dataclass

from fabbooking.usage.contract import ROOT, valid_segment
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


DEVICE_TOPIC_MAX = 200  # characters, as the database column
MAX_LEVELS = 100  # Mosquitto refuses a filter of 200 levels or more


def device_topic_problem(device_topic: str) -> str | None:
    """Why this cannot be a device topic (in English, for logs and the command line), or None."""
    if not device_topic or not device_topic.strip():
        return "it is empty"
    if len(device_topic) > DEVICE_TOPIC_MAX:
        return f"it is longer than {DEVICE_TOPIC_MAX} characters"
    wildcards = sorted({c for c in device_topic if c in "+#"})
    if wildcards:
        return (f"it contains the MQTT wildcard {' and '.join(wildcards)}: give the exact topic of one "
                "device, as set in the device (e.g. tasmota_laser)")
    if any(_unprintable(c) for c in device_topic):
        return "it contains a control or non-character code point (NUL, tab, line break…)"
    if device_topic.startswith("$"):
        return "topics starting with $ belong to the broker ($SYS)"
    if device_topic.startswith("/") or device_topic.endswith("/") or "//" in device_topic:
        return "it starts or ends with / or has an empty level (//)"
    if device_topic != device_topic.strip():
        return "it starts or ends with a space"
    return None


def filter_problem(topic_filter: str) -> str | None:
    """Why a broker would refuse this subscription filter (paho raises, Mosquitto disconnects)."""
    if not topic_filter or len(topic_filter.encode("utf-8", "surrogatepass")) > 65535:
        return "empty or too long"
    if any(_unprintable(c) for c in topic_filter):
        return "a control or non-character code point"
    levels = topic_filter.split("/")
    if len(levels) > MAX_LEVELS:
        return f"more than {MAX_LEVELS} levels"
    for n, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or n != len(levels) - 1)):
            return "a wildcard that is not a whole level (or # before the last level)"
    return None


def _unprintable(char: str) -> bool:
    """What Mosquitto refuses in a topic: C0 and C1 controls, surrogates and non-characters."""
    code = ord(char)
    return (code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF
            or code & 0xFFFE == 0xFFFE)


def unusable_routes(routes: list[DeviceRoute]) -> list[tuple[DeviceRoute, str]]:
    """Routes whose device topic cannot be subscribed to, with the reason (set before the check)."""
    unusable = []
    for route in routes:
        problem = device_topic_problem(route.device_topic) or next(
            (p for p in map(filter_problem, DECODERS[route.format].subscriptions(route.device_topic)) if p), None)
        if problem:
            unusable.append((route, problem))
    return unusable


def contract_subscriptions(share_group: str | None, sites: list[str] | None = None) -> list[str]:
    """Events go through a shared subscription (several listeners split the load); retained
    gateway status is read by every listener, so it is subscribed without $share. With
    ``sites`` (a listener's share, see partition.py), only those sites' events and status;
    a slug that is not a valid topic level (contract.valid_segment) is left out."""
    if sites is not None:
        return [topic for site in sites if valid_segment(site)
                for topic in (f"{ROOT}/{site}/+/+/event", f"{ROOT}/{site}/+/status")]
    events = f"{ROOT}/+/+/+/event"
    return [f"$share/{share_group}/{events}" if share_group else events, f"{ROOT}/+/+/status"]


def device_subscriptions(routes: list[DeviceRoute], share_group: str | None) -> list[str]:
    """What to subscribe to for the machines' devices; unusable routes are left out."""
    unusable = {route for route, _ in unusable_routes(routes)}
    topics = []
    for route in routes:
        if route in unusable:
            continue
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
