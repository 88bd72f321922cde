"""Recording what the machines report: every MQTT message is used once or dead-lettered
with its reason, never lost and never crashing the listener.

``record_batch`` writes a batch of messages in one transaction; the listener acknowledges
them (PUBACK) only after it returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fabbooking import database
from fabbooking.usage import live as live_state
from fabbooking.usage.contract import (
    MAX_AGE,
    PayloadRejected,
    parse_event,
    parse_status,
    parse_topic,
)
from fabbooking.usage.formats.signals import message_id
from fabbooking.usage.power import Thresholds, feed, went_offline
from fabbooking.usage.routing import DECODERS, DeviceRoute, is_state_only, route_for
from fabbooking.usage.sessions import JobReport, apply_job
from fabbooking.usage.tables import (
    DeadLetter,
    Gateway,
    ReceivedMessage,
    Telemetry,
    UsageSession,
)

log = logging.getLogger("fabbooking.usage")
DEAD_LETTER_BYTES = 4096
DEVICE_KEYS_KEPT = timedelta(days=7)  # redeliveries come within minutes; a week is ample
GATEWAY_KEYS_KEPT = MAX_AGE + timedelta(days=30)  # longer than the oldest event the contract accepts


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class Directory:
    """Gateways, machines and device topics, read once per batch."""

    gateways: dict[str, dict]
    machines: dict[tuple[str, str], dict]
    machines_by_id: dict[int, dict]
    routes: list[DeviceRoute]

    @classmethod
    async def load(cls) -> Directory:
        gateways = {g["ident"]: g for g in await Gateway.select(
            Gateway.id, Gateway.ident, Gateway.site.slug.as_alias("site_slug"))}
        rows = await Telemetry.select(
            Telemetry.all_columns(), Telemetry.machine.slug.as_alias("machine_slug"),
            Telemetry.machine.site.slug.as_alias("site_slug"),
            Telemetry.machine.site.timezone.as_alias("timezone"))
        machines = {(r["site_slug"], r["machine_slug"]): r for r in rows}
        routes = [DeviceRoute(r["machine"], r["format"], r["device_topic"])
                  for r in rows if r["format"] in DECODERS and r["device_topic"]]
        return cls(gateways, machines, {r["machine"]: r for r in rows}, routes)


async def record_batch(messages: list[Incoming], now: datetime) -> None:
    """Use every message; a message that breaks an unexpected rule is dead-lettered alone."""
    try:
        async with database.write_transaction():
            directory = await Directory.load()
            for message in messages:
                await _record(message, directory, now)
        return
    except Exception:  # noqa: BLE001 - find the culprit one message at a time
        log.exception("batch of %d failed; recording one by one", len(messages))
    for message in messages:
        try:
            async with database.write_transaction():
                await _record(message, await Directory.load(), now)
        except Exception as exc:  # noqa: BLE001 - a bad message must not stop the others
            if _transient(exc):
                raise  # the database's trouble, not the message's: the listener retries later
            log.exception("message on %s could not be recorded", message.topic)
            async with database.write_transaction():
                await dead_letter(message, f"internal error: {type(exc).__name__}: {exc}")


def _transient(exc: BaseException) -> bool:
    """A deadlock, a lock timeout or a lost connection: trying again later will work."""
    import sqlite3

    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    sqlstate = getattr(exc, "sqlstate", "") or ""
    return sqlstate.startswith(("08", "40", "53", "57")) or type(exc).__name__ in (
        "DeadlockDetectedError", "SerializationError", "InterfaceError", "ConnectionDoesNotExistError")


async def _record(message: Incoming, directory: Directory, now: datetime) -> None:
    try:
        address = parse_topic(message.topic)
        if address is None:
            await _record_device(message, directory)
        elif address.is_status:
            await _record_status(address, message, directory)
        else:
            await _record_event(address, message, directory, now)
    except PayloadRejected as rejected:
        await dead_letter(message, rejected.reason)


async def dead_letter(message: Incoming, reason: str) -> None:
    await DeadLetter.insert(DeadLetter(topic=message.topic[:255], reason=reason[:2000],
                                       payload=message.payload[:DEAD_LETTER_BYTES],
                                       size=len(message.payload)))


async def _first_time(key: str) -> bool:
    inserted = await ReceivedMessage.insert(ReceivedMessage(key=key[:200])).on_conflict(
        target=ReceivedMessage.key, action="DO NOTHING").returning(ReceivedMessage.id)
    return bool(inserted)


async def _record_status(address, message: Incoming, directory: Directory) -> None:
    gateway = directory.gateways.get(address.gateway)
    if gateway is None or gateway["site_slug"] != address.site:
        raise PayloadRejected(f"unknown gateway {address.gateway!r} at site {address.site!r}")
    state = parse_status(message.payload)
    await Gateway.update({Gateway.state: state, Gateway.last_seen_at: message.received_at}).where(
        Gateway.id == gateway["id"])
    if state == "lost":
        for machine in directory.machines_by_id.values():
            if machine["gateway"] == gateway["id"]:
                live = await live_state.load(machine["machine"])
                live.state = "offline"
                await live_state.save(live)


async def _record_event(address, message: Incoming, directory: Directory, now: datetime) -> None:
    gateway = directory.gateways.get(address.gateway)
    if gateway is None:
        raise PayloadRejected(f"unknown gateway {address.gateway!r}; register it with 'fabbooking gateway create'")
    if gateway["site_slug"] != address.site:
        raise PayloadRejected(f"gateway {address.gateway!r} belongs to site {gateway['site_slug']!r}, not {address.site!r}")
    machine = directory.machines.get((address.site, address.machine))
    if machine is None or machine["gateway"] != gateway["id"]:
        raise PayloadRejected(f"gateway {address.gateway!r} does not serve machine {address.machine!r}")
    event = parse_event(message.payload, now)
    if not await _first_time(f"gw:{gateway['ident']}:{event.msg_id}"):
        return
    await Gateway.update({Gateway.last_seen_at: message.received_at}).where(Gateway.id == gateway["id"])
    live = await live_state.load(machine["machine"])
    fresh = live_state.seen(live, event.ts)
    if event.job is not None:
        job = event.job
        material = job.material
        await apply_job(JobReport(
            machine["machine"], event.event, job.key, event.ts, job.started_at, job.duration_s, job.file,
            event.energy_wh, material.kind if material else None, material.grams if material else None,
            material.length_mm if material else None, replay=event.replay))
    if fresh:
        live.state = await _state_after(event.event, live.state, machine["machine"])
    await live_state.save(live)


async def _state_after(event: str, before: str, machine_id: int) -> str:
    if event in ("job_started", "job_failed", "power_off"):
        return {"job_started": "busy", "job_failed": "error", "power_off": "offline"}[event]
    if event == "heartbeat" and before != "offline":
        return before
    if event not in ("heartbeat", "power_on"):  # a job ended
        return "idle"
    # back from offline: busy only if a job of this machine is still running
    running = await UsageSession.exists().where(
        (UsageSession.machine == machine_id) & (UsageSession.outcome == "running"))
    return "busy" if running else "idle"


async def _record_device(message: Incoming, directory: Directory) -> None:
    route = route_for(message.topic, directory.routes)
    if route is None:
        raise PayloadRejected("no machine is set to listen to this topic")
    settings = directory.machines_by_id[route.machine_id]
    live = await live_state.load(route.machine_id)
    decoded = DECODERS[route.format].decode(message.topic, message.payload, live.device_state,
                                            message.received_at, ZoneInfo(settings["timezone"]))
    if not is_state_only(message.topic) and not await _first_time(
            f"dev:{route.machine_id}:{message_id(message.topic, message.payload)}"):
        return
    reports: list[JobReport] = []
    if decoded.reading is not None:
        limits = Thresholds(settings["start_w"], settings["idle_w"], settings["start_after_s"], settings["stop_after_s"])
        live.detector, detected = feed(live.detector, decoded.reading, limits)
        live.power_w = decoded.reading.power_w
        reports += [JobReport(route.machine_id, j.event, j.key, j.at, j.started_at, energy_wh=j.energy_wh)
                    for j in detected]
    if decoded.online is False:
        live.detector, detected = went_offline(live.detector)
        reports += [JobReport(route.machine_id, j.event, j.key, j.at, j.started_at, energy_wh=j.energy_wh)
                    for j in detected]
    reports += [JobReport(route.machine_id, j.event, j.key, j.at, j.started_at, j.duration_s, j.file,
                          material_kind="filament" if j.filament_mm else None, material_length_mm=j.filament_mm)
                for j in decoded.jobs]
    for report in reports:
        await apply_job(report)
    when = decoded.reading.at if decoded.reading else message.received_at
    if live_state.seen(live, when):
        live.state = _device_state(decoded, live)
    await live_state.save(live)


def _device_state(decoded, live) -> str:
    if decoded.online is False:
        return "offline"
    if decoded.error:
        return "error"
    if decoded.busy is not None:
        return "busy" if decoded.busy else "idle"
    if decoded.reading is not None:
        return "busy" if live.detector.running else "idle"
    return live.state if live.state != "offline" else "idle"




async def forget_old_message_keys(now: datetime) -> None:
    """Keep the idempotency table small: device message keys (``dev:``) only matter for
    redeliveries, gateway keys (``gw:``) as long as a replay could still be accepted."""
    await ReceivedMessage.delete().where(
        ReceivedMessage.key.like("dev:%") & (ReceivedMessage.received_at < now - DEVICE_KEYS_KEPT))
    await ReceivedMessage.delete().where(
        ReceivedMessage.key.like("gw:%") & (ReceivedMessage.received_at < now - GATEWAY_KEYS_KEPT))
