"""Recording what the machines report: every MQTT message is used once or dead-lettered
with its reason, never lost and never crashing the listener.

``record_batch`` records a batch of messages in one transaction, as a set: it checks every
message against the directory (no database), claims the message keys of the whole batch
in one statement, reads the live state of its machines and the sessions of its jobs in one
statement each, folds the messages into them in memory in arrival order (device decoding
and power detection are pure), and writes each live state, session and gateway once
(``bulk.py``). The listener acknowledges the messages (PUBACK) only after it returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from fabbooking import database
from fabbooking.observability import metrics
from fabbooking.usage import bulk
from fabbooking.usage import directory as directories
from fabbooking.usage import live as live_state
from fabbooking.usage.contract import (
    MAX_AGE,
    Address,
    PayloadRejected,
    UsageEvent,
    parse_event,
    parse_status,
    parse_topic,
)
from fabbooking.usage.directory import Directory
from fabbooking.usage.formats.signals import Decoded, message_id
from fabbooking.usage.power import Thresholds, feed, went_offline
from fabbooking.usage.routing import DECODERS, DeviceRoute, is_state_only
from fabbooking.usage.sessions import JobReport, booking_window, fold_job, link_booking, session_key
from fabbooking.usage.tables import ReceivedMessage

log = logging.getLogger("fabbooking.usage")
DEAD_LETTER_BYTES = 4096
DEVICE_KEYS_KEPT = timedelta(days=7)  # redeliveries come within minutes; a week is ample
GATEWAY_KEYS_KEPT = MAX_AGE + timedelta(days=30)  # longer than the oldest event the contract accepts
CONCURRENT_RETRIES = 3


class Incoming(NamedTuple):  # a tuple: one is made for every message
    topic: str
    payload: bytes
    received_at: datetime


# --- what each message is, checked against the directory (no database) -------------------

@dataclass
class Rejected:
    message: Incoming
    reason: str


@dataclass
class GatewayEvent:
    message: Incoming
    gateway_id: int
    machine_id: int
    event: UsageEvent
    key: str


@dataclass
class GatewayStatus:
    message: Incoming
    gateway_id: int
    state: str


@dataclass
class DeviceMessage:
    message: Incoming
    route: DeviceRoute
    settings: dict
    key: str | None  # None: a state-only message, never deduplicated
    # filled while decoding
    decoded: Decoded | None = None
    reports: list[JobReport] = field(default_factory=list)
    detector_running: bool = False


Item = Rejected | GatewayEvent | GatewayStatus | DeviceMessage


def _classify(message: Incoming, directory: Directory, now: datetime) -> Item:
    try:
        address = parse_topic(message.topic)
        if address is None:
            route = directory.route(message.topic)
            if route is None:
                raise PayloadRejected("no machine is set to listen to this topic")
            key = None if is_state_only(message.topic) else \
                f"dev:{route.machine_id}:{message_id(message.topic, message.payload)}"
            return DeviceMessage(message, route, directory.machines_by_id[route.machine_id], key)
        if address.is_status:
            return _status(address, message, directory)
        return _gateway_event(address, message, directory, now)
    except PayloadRejected as rejected:
        return Rejected(message, rejected.reason)


def _status(address: Address, message: Incoming, directory: Directory) -> GatewayStatus:
    gateway = directory.gateways.get(address.gateway)
    if gateway is None or gateway["site_slug"] != address.site:
        raise PayloadRejected(f"unknown gateway {address.gateway!r} at site {address.site!r}")
    return GatewayStatus(message, gateway["id"], parse_status(message.payload))


def _gateway_event(address: Address, message: Incoming, directory: Directory, now: datetime) -> GatewayEvent:
    gateway = directory.gateways.get(address.gateway)
    if gateway is None:
        raise PayloadRejected(f"unknown gateway {address.gateway!r}; register it with 'fabbooking gateway create'")
    if gateway["site_slug"] != address.site:
        raise PayloadRejected(f"gateway {address.gateway!r} belongs to site {gateway['site_slug']!r}, not {address.site!r}")
    machine = directory.machines.get((address.site, address.machine))
    if machine is None or machine["gateway"] != gateway["id"]:
        raise PayloadRejected(f"gateway {address.gateway!r} does not serve machine {address.machine!r}")
    event = parse_event(message.payload, now)
    return GatewayEvent(message, gateway["id"], machine["machine"], event, f"gw:{gateway['ident']}:{event.msg_id}")


def _unknown(item: Item) -> bool:
    """Rejected for naming something the directory may not know yet."""
    return isinstance(item, Rejected) and item.reason.startswith(
        ("no machine is set", "unknown gateway", "gateway ", "does not serve"))


async def _classify_all(messages: list[Incoming], now: datetime) -> tuple[list[Item], Directory]:
    directory = await directories.current()
    items = [_classify(m, directory, now) for m in messages]
    if any(_unknown(item) for item in items):  # wired a moment ago? read the directory again
        directory = await directories.current(stale=True)
        items = [_classify(m, directory, now) for m in messages]
    return items, directory


# --- recording a batch ----------------------------------------------------------------------

async def record_batch(messages: list[Incoming], now: datetime) -> None:
    """Use every message; a message that breaks an unexpected rule is dead-lettered alone.

    The batch is recorded as a set; should that fail for a reason of one message's making,
    it is recorded one message at a time (each as a set of one), and a message that still
    fails is dead-lettered with the error. A database in trouble (unreachable, deadlock)
    raises: the listener retries the whole batch later."""
    if not messages:
        return
    try:
        _count(len(messages), await _record_retrying(messages, now))
        return
    except Exception as exc:  # noqa: BLE001 - find the culprit one message at a time
        if _transient(exc):
            raise
        log.exception("batch of %d failed; recording one by one", len(messages))
    for message in messages:
        try:
            _count(1, await _record_retrying([message], now))
        except Exception as exc:  # noqa: BLE001 - a bad message must not stop the others
            if _transient(exc):
                raise  # the database's trouble, not the message's: the listener retries later
            log.exception("message on %s could not be recorded", message.topic)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            async with database.write_transaction():
                await bulk.dead_letters([_dead_letter(message, reason, now)])
            _count(1, [reason])


def _count(messages: int, dead_reasons: list[str]) -> None:
    """For /metrics, once the batch is committed."""
    metrics.mqtt_recorded.inc(messages - len(dead_reasons))
    metrics.count_dead_letters(dead_reasons)


async def _record_retrying(messages: list[Incoming], now: datetime) -> list[str]:
    """Record the messages as a set; the reasons of those dead-lettered."""
    for attempt in range(CONCURRENT_RETRIES + 1):
        items, directory = await _classify_all(messages, now)
        try:
            async with database.write_transaction():
                dead_reasons = await _record_set(items, directory, now)
            return dead_reasons
        except bulk.ConcurrentWrite:
            if attempt == CONCURRENT_RETRIES:
                raise
            log.info("another listener wrote the same rows; recording the batch again")
    raise AssertionError("unreachable")  # the last attempt returned or raised


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


def _dead_letter(message: Incoming, reason: str, now: datetime) -> tuple:
    return (now, message.topic[:255], reason[:2000], message.payload[:DEAD_LETTER_BYTES], len(message.payload))


@dataclass
class _Machines:
    """The live state of the batch's machines, as read and as it becomes."""

    read: dict[int, dict]
    lives: dict[int, live_state.Live]

    @classmethod
    def from_rows(cls, machine_ids: set[int], rows: dict[int, dict], devices: set[int]) -> _Machines:
        """``devices``: the machines whose device memory the batch needs (device formats)."""
        lives = {}
        for machine_id in machine_ids:
            row = rows.get(machine_id)
            lives[machine_id] = (live_state.from_row(machine_id, row, machine_id in devices) if row
                                 else live_state.Live(machine_id))
        return cls(rows, lives)

    def changes(self) -> tuple[list[dict], list[dict]]:
        """(new rows, changed rows); a row is compared with the one read as it was stored."""
        new, changed = [], []
        for machine_id, live in self.lives.items():
            row = live_state.to_row(live)
            before = self.read.get(machine_id)
            if before is None:
                new.append(row)
            elif any(row[column] != before[column] for column in row):
                changed.append(row)
        return new, changed


class _Sessions:
    """The sessions of the batch's jobs, folded in memory."""

    def __init__(self, rows: dict[str, dict]) -> None:
        self.read = rows
        self.rows = dict(rows)
        self.reported: set[str] = set()
        self._running: dict[int, set[str]] | None = None

    def apply(self, report: JobReport) -> None:
        key = session_key(report.machine_id, report.key)
        self.rows[key] = fold_job(self.rows.get(key), report)
        self.reported.add(key)

    async def running(self, machine_id: int, machines: set[int]) -> bool:
        """Whether a job of the machine is still running, at this point of the batch."""
        if any(r["machine"] == machine_id and r["outcome"] == "running" for r in self.rows.values()):
            return True
        if self._running is None:  # sessions the batch does not touch: one query, if ever needed
            self._running = await bulk.running_sessions(sorted(machines))
        return any(key not in self.rows for key in self._running.get(machine_id, ()))

    async def linked(self) -> tuple[list[dict], list[dict]]:
        """The reported sessions, each linked to its booking: (new rows, changed rows)."""
        reported = [self.rows[key] for key in sorted(self.reported)]
        started = [row for row in reported if row["started_at"] is not None]
        bookings: list[dict] = []
        if started:
            windows = [booking_window(row["started_at"]) for row in started]
            bookings = await bulk.bookings_between(sorted({row["machine"] for row in started}),
                                                   min(w[0] for w in windows), max(w[1] for w in windows))
        new, changed = [], []
        for row in reported:
            row = link_booking(row, bookings)
            if row["key"] not in self.read:
                new.append(row)
            elif row != self.read[row["key"]]:
                changed.append(row)
        return new, changed


async def _record_set(items: list[Item], directory: Directory, now: datetime) -> list[str]:
    keyed = [item for item in items if isinstance(item, GatewayEvent | DeviceMessage) and item.key]
    unclaimed = await bulk.claim_keys(list(dict.fromkeys(item.key for item in keyed)), now)
    fresh = _fresh(items, unclaimed)
    devices = {i.route.machine_id for i in fresh if isinstance(i, DeviceMessage)}
    machine_ids = devices | {i.machine_id for i in fresh if isinstance(i, GatewayEvent)}
    for item in fresh:
        if isinstance(item, GatewayStatus) and item.state == "lost":
            machine_ids.update(directory.gateway_machines(item.gateway_id))
    machines = _Machines.from_rows(machine_ids, await bulk.live_rows(sorted(machine_ids)) if machine_ids else {},
                                   devices)
    dead = [(n, i.message, i.reason) for n, i in enumerate(items) if isinstance(i, Rejected)]
    dead += _decode_devices(fresh, machines, unclaimed, {id(item): n for n, item in enumerate(items)})

    job_keys = {session_key(i.machine_id, i.event.job.key) for i in fresh
                if isinstance(i, GatewayEvent) and i.event.job is not None}
    job_keys |= {session_key(r.machine_id, r.key) for i in fresh if isinstance(i, DeviceMessage) for r in i.reports}
    sessions = _Sessions(await bulk.session_rows(sorted(job_keys)) if job_keys else {})
    gateways = await _fold(fresh, directory, machines, sessions, machine_ids)

    await bulk.save_live(*machines.changes())
    await bulk.save_sessions(*await sessions.linked())
    await bulk.touch_gateways(gateways)
    if unclaimed:  # claimed for device messages dead-lettered after all: given back
        await bulk.forget_keys(sorted(unclaimed))
    if dead:
        await bulk.dead_letters([_dead_letter(message, reason, now) for _, message, reason in sorted(dead)])
    return [reason for _, _, reason in dead]


def _fresh(items: list[Item], unclaimed: set[str]) -> list[Item]:
    """The messages to use: a key counts for its first message in the batch (a copy within
    the batch, or a message recorded before, changes nothing). A gateway event's key is used
    at once; a device message's once it decodes (``_decode_devices``)."""
    fresh: list[Item] = []
    for item in items:
        if isinstance(item, GatewayEvent | DeviceMessage) and item.key:
            if item.key not in unclaimed:
                continue
            if isinstance(item, GatewayEvent):
                unclaimed.discard(item.key)
        fresh.append(item)
    return fresh


def _decode_devices(fresh: list[Item], machines: _Machines, unclaimed: set[str],
                    order: dict[int, int]) -> list[tuple[int, Incoming, str]]:
    """Decode the device messages in arrival order (their decoding makes the job reports);
    the dead letters of those that do not decode, by arrival."""
    dead = []
    for item in fresh:
        if not isinstance(item, DeviceMessage):
            continue
        if item.key is not None and item.key not in unclaimed:
            continue  # an earlier copy in this batch was used
        try:
            _decode(item, machines.lives[item.route.machine_id])
        except PayloadRejected as rejected:
            dead.append((order[id(item)], item.message, rejected.reason))
            continue  # its key, if any, stays unclaimed
        unclaimed.discard(item.key)
    return dead


async def _fold(fresh: list[Item], directory: Directory, machines: _Machines, sessions: _Sessions,
                machine_ids: set[int]) -> dict[int, tuple[datetime, str | None]]:
    """Fold the messages into the live states and sessions, in arrival order; each
    gateway's last message and state."""
    gateways: dict[int, tuple[datetime, str | None]] = {}
    for item in fresh:
        if isinstance(item, GatewayEvent):
            _gateway_seen(gateways, item.gateway_id, item.message.received_at, None)
            await _apply_event(item, machines.lives[item.machine_id], sessions, machine_ids)
        elif isinstance(item, GatewayStatus):
            _gateway_seen(gateways, item.gateway_id, item.message.received_at, item.state)
            if item.state == "lost":
                for machine_id in directory.gateway_machines(item.gateway_id):
                    machines.lives[machine_id].state = "offline"
        elif isinstance(item, DeviceMessage) and item.decoded is not None:
            for report in item.reports:
                sessions.apply(report)
            live = machines.lives[item.route.machine_id]
            when = item.decoded.reading.at if item.decoded.reading else item.message.received_at
            if live_state.seen(live, when):
                live.state = _device_state(item.decoded, item.detector_running, live.state)
    return gateways


def _gateway_seen(gateways: dict, gateway_id: int, at: datetime, state: str | None) -> None:
    last, known_state = gateways.get(gateway_id, (at, None))
    gateways[gateway_id] = (max(last, at), state or known_state)


async def _apply_event(item: GatewayEvent, live: live_state.Live, sessions: _Sessions, machines: set[int]) -> None:
    event = item.event
    fresh = live_state.seen(live, event.ts)
    if event.job is not None:
        job, material = event.job, event.job.material
        sessions.apply(JobReport(
            item.machine_id, event.event, job.key, event.ts, job.started_at, job.duration_s, job.file,
            event.energy_wh, material.kind if material else None, material.grams if material else None,
            material.length_mm if material else None, replay=event.replay))
    if fresh:
        live.state = await _state_after(event.event, live.state, item.machine_id, sessions, machines)


async def _state_after(event: str, before: str, machine_id: int, sessions: _Sessions, machines: set[int]) -> str:
    if event in ("job_started", "job_failed", "power_off"):
        return {"job_started": "busy", "job_failed": "error", "power_off": "offline"}[event]
    if event == "heartbeat" and before != "offline":
        return before
    if event not in ("heartbeat", "power_on"):  # a job ended
        return "idle"
    # back from offline: busy only if a job of this machine is still running
    return "busy" if await sessions.running(machine_id, machines) else "idle"


def _decode(item: DeviceMessage, live: live_state.Live) -> None:
    """Decode a device message over the machine's remembered device state and feed its
    power detector (pure); the live state takes the result only when it decodes."""
    message, route, settings = item.message, item.route, item.settings
    device_state = dict(live.device_state)  # decoders replace top-level entries, never edit inside
    decoded = DECODERS[route.format].decode(message.topic, message.payload, device_state,
                                            message.received_at, ZoneInfo(settings["timezone"]))
    live.device_state = device_state
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
    item.decoded, item.reports, item.detector_running = decoded, reports, live.detector.running


def _device_state(decoded: Decoded, detector_running: bool, before: str) -> str:
    if decoded.online is False:
        return "offline"
    if decoded.error:
        return "error"
    if decoded.busy is not None:
        return "busy" if decoded.busy else "idle"
    if decoded.reading is not None:
        return "busy" if detector_running else "idle"
    return before if before != "offline" else "idle"


async def forget_old_message_keys(now: datetime) -> None:
    """Keep the idempotency table small: device message keys (``dev:``) only matter for
    redeliveries, gateway keys (``gw:``) as long as a replay could still be accepted."""
    await ReceivedMessage.delete().where(
        ReceivedMessage.key.like("dev:%") & (ReceivedMessage.received_at < now - DEVICE_KEYS_KEPT))
    await ReceivedMessage.delete().where(
        ReceivedMessage.key.like("gw:%") & (ReceivedMessage.received_at < now - GATEWAY_KEYS_KEPT))

