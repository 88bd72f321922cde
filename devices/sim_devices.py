"""Simulated devices: each renders the plan's steps as the MQTT messages the real device
publishes (DEVICES.md), in exactly the shape fabbooking/usage/formats/*.py decode.

Clocks. Contract gateways and OctoPrint stamp *simulated* time: the server trusts their
timestamps (``ts``, ``_timestamp``), so a sped-up run fills the past hours with jobs of their
real length. Tasmota, Shelly and Klipper stamp the *wall clock* like a real device with NTP:
the server dates Klipper and Shelly full statuses by arrival and ignores a Tasmota ``Time``
more than 10 minutes off, so their jobs show up compressed by ``speed`` (use
``MachineSpec.telemetry(speed)`` for thresholds that fit).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from devices.mqtt_common import Will
from devices.sim_plan import MachineSpec, PlannedJob


@dataclass(frozen=True)
class Out:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True)
class Moment:
    virtual: datetime  # simulated time
    wall: datetime  # the real clock when the message goes out


@dataclass
class SimJob:
    """A job as the server should record it (times as the device stamped them)."""

    machine: str
    number: int
    format: str
    outcome: str  # the UsageSession outcome Fabbooking should show
    key: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    file: str | None = None
    energy_wh: float | None = None
    replayed: bool = False


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _hex(name: str, n: int) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:n].upper()


class Device:
    stamp = "wall"
    min_gap_s = 0.0  # between two messages of this device, in wall seconds

    def __init__(self, spec: MachineSpec, tz: ZoneInfo) -> None:
        self.spec = spec
        self.tz = tz
        self.jobs: dict[int, SimJob] = {}

    def at(self, m: Moment) -> datetime:
        return m.virtual if self.stamp == "virtual" else m.wall

    def client_id(self) -> str:
        return f"sim-{self.spec.format}-{self.spec.name}"

    def will(self) -> Will | None:
        return None

    def birth(self, m: Moment) -> list[Out]:
        return []

    def gap_before(self, action: str) -> float:
        return self.min_gap_s

    def _job(self, job: PlannedJob, outcome: str | None = None) -> SimJob:
        if job.number not in self.jobs:
            self.jobs[job.number] = SimJob(job.machine, job.number, self.spec.format, outcome or job.outcome,
                                           file=job.file)
        return self.jobs[job.number]

    def heartbeat(self, m: Moment) -> list[Out]:
        return []


class Plug(Device):
    """A metering plug: integrates energy over simulated time, reports power and meter."""

    def __init__(self, spec: MachineSpec, tz: ZoneInfo) -> None:
        super().__init__(spec, tz)
        self.watts = spec.standby_w
        self.total_wh = 100_000 + int(_hex(spec.name, 4), 16) / 10  # a plug that has served a while
        self.last_v: datetime | None = None
        self.last_stamp: datetime | None = None
        self.last_total_wh = self.total_wh
        self.first_wh = self.total_wh

    def _meter(self, m: Moment) -> None:
        if self.last_v is not None and m.virtual > self.last_v:
            self.total_wh += self.watts * (m.virtual - self.last_v).total_seconds() / 3600
        self.last_v = m.virtual

    def reading(self, m: Moment) -> tuple[list[Out], datetime, float]:
        raise NotImplementedError

    def power(self, m: Moment, watts: float, job: PlannedJob | None = None, mark: str | None = None) -> list[Out]:
        self._meter(m)
        self.watts = watts
        outs, stamped, meter_wh = self.reading(m)
        if job is not None:
            sim = self._job(job)
            if mark == "start":
                sim.started_at, sim.key, sim.energy_wh = stamped, f"power-{int(stamped.timestamp())}", meter_wh
            else:
                sim.ended_at = stamped
                sim.energy_wh = round(meter_wh - sim.energy_wh, 3)
                sim.duration_s = (stamped - sim.started_at).total_seconds()
        self.last_stamp, self.last_total_wh = stamped, meter_wh
        return outs

    def offline(self, m: Moment, job: PlannedJob | None = None, mark: str | None = None) -> list[Out]:
        self._meter(m)
        if job is not None:  # the server ends the job at the last reading it got
            sim = self._job(job)
            sim.ended_at = self.last_stamp
            sim.energy_wh = round(self.last_total_wh - sim.energy_wh, 3)
            sim.duration_s = (self.last_stamp - sim.started_at).total_seconds()
        return [self._presence(False)]

    def online(self, m: Moment, watts: float) -> list[Out]:
        self._meter(m)
        self.watts = watts
        return [self._presence(True)] + self.reading(m)[0]

    def _presence(self, online: bool) -> Out:
        raise NotImplementedError


class Tasmota(Plug):
    """tele/<t>/SENSOR (Total kWh, Power W, Time local without zone), tele/<t>/LWT, stat/<t>/POWER."""

    min_gap_s = 1.05  # Time has one-second resolution: two readings must not share a second

    def client_id(self) -> str:
        return f"DVES_{_hex(self.spec.name, 6)}"

    def will(self) -> Will:
        return Will(f"tele/{self.spec.topic}/LWT", b"Offline", qos=1, retain=True)

    def _presence(self, online: bool) -> Out:
        return Out(f"tele/{self.spec.topic}/LWT", b"Online" if online else b"Offline", 1, True)

    def birth(self, m: Moment) -> list[Out]:
        self._meter(m)
        return [self._presence(True), Out(f"stat/{self.spec.topic}/POWER", b"ON")] + self.reading(m)[0]

    def reading(self, m: Moment) -> tuple[list[Out], datetime, float]:
        local = m.wall.astimezone(self.tz).replace(microsecond=0)
        total_kwh = round(self.total_wh / 1000, 3)
        watts = round(self.watts)
        factor = 0.97 if watts > self.spec.idle_w else 0.62
        voltage = 226 + int(_hex(f"{self.spec.name}{local}", 2), 16) % 6
        apparent = round(watts / factor)
        today = round(0.412 + (self.total_wh - self.first_wh) / 1000, 3)
        body = {"Time": local.replace(tzinfo=None).isoformat(), "ENERGY": {
            "TotalStartTime": "2025-09-01T10:12:00", "Total": total_kwh, "Yesterday": 3.417, "Today": today,
            "Period": int(round(self.total_wh - self.last_total_wh)), "Power": watts, "ApparentPower": apparent,
            "ReactivePower": round(math.sqrt(max(apparent ** 2 - watts ** 2, 0))), "Factor": factor,
            "Voltage": voltage, "Current": round(apparent / voltage, 3)}}
        return [Out(f"tele/{self.spec.topic}/SENSOR", _json(body))], local.astimezone(UTC), total_kwh * 1000


class Shelly(Plug):
    """<p>/status/switch:0 (full status on connect), <p>/events/rpc NotifyStatus partials
    with ``params.ts`` for every power change, <p>/online true/false. QoS 1."""

    min_gap_s = 0.5  # the full status is dated on arrival: leave it time to land first

    def client_id(self) -> str:
        return f"shellyplusplugs-{_hex(self.spec.name, 12).lower()}"

    def will(self) -> Will:
        return Will(f"{self.spec.topic}/online", b"false", qos=1, retain=True)

    def _presence(self, online: bool) -> Out:
        return Out(f"{self.spec.topic}/online", b"true" if online else b"false", 1, True)

    def _status(self, m: Moment) -> dict:
        watts = round(self.watts, 1)
        return {"id": 0, "apower": watts, "voltage": 229.4, "current": round(watts / 229.4 / 0.95, 3),
                "aenergy": {"total": round(self.total_wh, 3), "by_minute": [round(watts / 60 * 1000, 3), 0.0, 0.0],
                            "minute_ts": int(m.wall.timestamp()) // 60 * 60}}

    def birth(self, m: Moment) -> list[Out]:
        self._meter(m)
        full = {**self._status(m), "source": "init", "output": True, "freq": 50.0,
                "temperature": {"tC": 38.6, "tF": 101.5}}
        return [self._presence(True), Out(f"{self.spec.topic}/status/switch:0", _json(full), 1)]

    def reading(self, m: Moment) -> tuple[list[Out], datetime, float]:
        ts = round(m.wall.timestamp(), 2)
        status = self._status(m)
        partial = {"id": 0, "apower": status["apower"], "current": status["current"], "aenergy": status["aenergy"]}
        body = {"src": self.client_id(), "dst": f"{self.spec.topic}/events", "method": "NotifyStatus",
                "params": {"ts": ts, "switch:0": partial}}
        return ([Out(f"{self.spec.topic}/events/rpc", _json(body), 1)], datetime.fromtimestamp(ts, UTC),
                status["aenergy"]["total"])


class OctoPrint(Device):
    """<base>/event/<Event> (QoS 0, _timestamp in Unix seconds), <base>/progress/printing
    (retained), <base>/mqtt connected/disconnected (retained, last will)."""

    stamp = "virtual"

    def will(self) -> Will:
        return Will(f"{self.spec.topic}/mqtt", b"disconnected", qos=0, retain=True)

    def birth(self, m: Moment) -> list[Out]:
        return [Out(f"{self.spec.topic}/mqtt", b"connected", 0, True)]

    def offline(self, m: Moment) -> list[Out]:
        return [Out(f"{self.spec.topic}/mqtt", b"disconnected", 0, True)]

    def online(self, m: Moment) -> list[Out]:
        return self.birth(m)

    def _event(self, name: str, m: Moment, job: PlannedJob, **extra) -> Out:
        size = 200_000 + int(_hex(job.file, 4), 16) * 10
        body = {"name": job.file, "path": job.file, "origin": "local", "size": size, "owner": "papifab",
                "user": "papifab", **extra, "_event": name, "_timestamp": int(m.virtual.timestamp())}
        return Out(f"{self.spec.topic}/event/{name}", _json(body))

    def _progress(self, m: Moment, job: PlannedJob, percent: int) -> Out:
        body = {"progress": percent, "location": "local", "path": job.file, "_timestamp": int(m.virtual.timestamp())}
        return Out(f"{self.spec.topic}/progress/printing", _json(body), 0, True)

    def job_start(self, m: Moment, job: PlannedJob) -> list[Out]:
        sim = self._job(job)
        stamped = m.virtual.replace(microsecond=0)
        sim.started_at, sim.key = stamped, f"octoprint-{int(stamped.timestamp())}"
        return [self._event("PrintStarted", m, job), self._progress(m, job, 0)]

    def job_progress(self, m: Moment, job: PlannedJob, fraction: float) -> list[Out]:
        return [self._progress(m, job, int(fraction * 100))]

    def job_end(self, m: Moment, job: PlannedJob) -> list[Out]:
        sim = self._job(job)
        sim.ended_at, sim.duration_s = m.virtual.replace(microsecond=0), float(job.duration_s)
        elapsed = {"time": float(job.duration_s)}
        if job.outcome == "completed":
            return [self._event("PrintDone", m, job, **elapsed)]
        if job.outcome == "failed":
            return [self._event("PrintFailed", m, job, **elapsed, reason="error")]
        return [self._event("PrintFailed", m, job, **elapsed, reason="cancelled"),  # a cancel sends both
                self._event("PrintCancelled", m, job, **elapsed)]


class Klipper(Device):
    """<i>/klipper/status with only the changed fields of print_stats / virtual_sdcard,
    <i>/moonraker/status online/offline (retained, last will)."""

    def __init__(self, spec: MachineSpec, tz: ZoneInfo) -> None:
        super().__init__(spec, tz)
        self.boot: datetime | None = None

    def client_id(self) -> str:
        return f"moonraker-{self.spec.name}"

    def gap_before(self, action: str) -> float:
        return 1.05 if action == "job_start" else 0.0  # the server names a job by its arrival second

    def will(self) -> Will:
        return Will(f"{self.spec.topic}/moonraker/status", _json({"server": "offline"}), qos=0, retain=True)

    def _presence(self, online: bool) -> Out:
        return Out(f"{self.spec.topic}/moonraker/status", _json({"server": "online" if online else "offline"}), 0, True)

    def _status(self, m: Moment, status: dict) -> Out:
        self.boot = self.boot or m.wall - timedelta(hours=3)  # Klipper's clock: seconds since the host booted
        eventtime = round((m.wall - self.boot).total_seconds(), 3)
        return Out(f"{self.spec.topic}/klipper/status", _json({"eventtime": eventtime, "status": status}))

    def birth(self, m: Moment) -> list[Out]:
        stats = {"filename": "", "total_duration": 0.0, "print_duration": 0.0, "filament_used": 0.0,
                 "state": "standby", "message": "", "info": {"total_layer": None, "current_layer": None}}
        return [self._presence(True), self._status(m, {"print_stats": stats, "virtual_sdcard": {
            "progress": 0.0, "is_active": False, "file_position": 0}})]

    def offline(self, m: Moment) -> list[Out]:
        return [self._presence(False)]

    def online(self, m: Moment) -> list[Out]:
        return [self._presence(True)]

    def job_start(self, m: Moment, job: PlannedJob) -> list[Out]:
        sim = self._job(job)
        sim.started_at = m.wall
        return [self._status(m, {"print_stats": {"state": "printing", "filename": job.file, "print_duration": 0.0,
                                                 "total_duration": 0.0, "filament_used": 0.0, "message": ""},
                                 "virtual_sdcard": {"is_active": True, "progress": 0.0}})]

    def _printed(self, job: PlannedJob, elapsed: float) -> dict:
        paused = 300 if job.pause_at_s is not None and job.start_s + elapsed > job.pause_at_s + 300 else 0
        printing = round(max(elapsed - paused, 0.0), 2)
        return {"print_duration": printing, "total_duration": round(elapsed, 2),
                "filament_used": round((job.length_mm or 0) * printing / max(job.duration_s - paused, 1), 1)}

    def job_progress(self, m: Moment, job: PlannedJob, fraction: float) -> list[Out]:
        return [self._status(m, {"print_stats": self._printed(job, job.duration_s * fraction),
                                 "virtual_sdcard": {"progress": round(fraction, 4)}})]

    def job_pause(self, m: Moment, job: PlannedJob) -> list[Out]:
        return [self._status(m, {"print_stats": {"state": "paused"}})]

    def job_resume(self, m: Moment, job: PlannedJob) -> list[Out]:
        return [self._status(m, {"print_stats": {"state": "printing"}})]

    def job_end(self, m: Moment, job: PlannedJob) -> list[Out]:
        sim = self._job(job)
        stats = {"state": {"completed": "complete", "failed": "error"}.get(job.outcome, job.outcome),
                 **self._printed(job, job.duration_s + 0.001)}
        if job.outcome == "failed":
            stats["message"] = "MCU 'mcu' shutdown: Heater extruder not heating at expected rate"
        sim.ended_at, sim.duration_s = m.wall, stats["print_duration"]
        return [self._status(m, {"print_stats": stats, "virtual_sdcard": {"is_active": False}})]
