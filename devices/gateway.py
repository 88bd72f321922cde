"""Reference gateway for machines with no network of their own: a small computer (e.g. a
Raspberry Pi) samples a current sensor, a GPIO line or any command that prints watts, finds
jobs with Fabbooking's own detector (fabbooking/usage/power.py) and publishes contract v1
events (docs/mqtt.md) through an on-disk queue, so no event is lost to a network cut or a
restart. See devices/README.md for setting one up.

    python -m devices.gateway --config /etc/fabbooking-gateway.toml
    python -m devices.gateway --config gw.toml --check     # read each source once and exit
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty, SimpleQueue

import paho.mqtt.client as mqtt

from devices.gateway_queue import DiskQueue, detector_from_dict, detector_to_dict
from devices.mqtt_common import Broker, DeviceError, Will, new_client, parse_broker_url
from devices.sources import CommandSource, FileSource, GpioSource, Source, SourceError
from fabbooking.usage.contract import (
    Job,
    UsageEvent,
    build_event,
    build_status,
    event_topic,
    status_topic,
    valid_segment,
)
from fabbooking.usage.power import DetectedJob, Reading, Thresholds, feed, job_key

__all__ = ["CommandSource", "Config", "FileSource", "Gateway", "GpioSource", "MachineConfig", "Source",
           "SourceError", "load_config"]
log = logging.getLogger("fabbooking.gateway")
MAX_IN_FLIGHT = 50
SAVE_STATE_EVERY_S = 300.0  # a quiet detector is saved now and then, not at every sample (SD cards wear)


# --- configuration -----------------------------------------------------------------------

@dataclass(frozen=True)
class MachineConfig:
    id: str
    source: Source
    thresholds: Thresholds = Thresholds()


@dataclass(frozen=True)
class Config:
    site: str
    gateway: str
    broker: Broker
    password: str | None
    queue: Path
    machines: list[MachineConfig]
    sample_every_s: float = 2.0
    heartbeat_every_s: float = 300.0
    reconnect_max_s: float = 60.0
    mqtt_version: int = 4  # 4 = MQTT 3.1.1; 5 makes a refused publish visible (ACL) instead of silent


def _source(table: dict, where: str) -> Source:
    kind = table.get("source")
    if kind == "file":
        return FileSource(Path(table["path"]))
    if kind == "command":
        return CommandSource(table["command"], float(table.get("timeout_s", 10)))
    if kind == "gpio":
        return GpioSource(int(table["pin"]), float(table.get("on_w", 1000)), bool(table.get("active_low", False)))
    raise DeviceError(f"{where}: source must be \"file\", \"command\" or \"gpio\", not {kind!r}")


def load_config(path: Path) -> Config:
    """Read the TOML file; FABBOOKING_GATEWAY_PASSWORD overrides ``password``."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise DeviceError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeviceError(f"{path} is not valid TOML: {exc}") from None
    try:
        site, gateway, broker = data["site"], data["gateway"], parse_broker_url(data["broker"])
        machines = []
        for i, table in enumerate(data.get("machine", [])):
            where = f"{path}: [[machine]] #{i + 1}"
            limits = Thresholds(**{k: float(table[k]) for k in ("start_w", "idle_w", "start_after_s", "stop_after_s")
                                   if k in table})
            if not valid_segment(str(table["id"])):
                raise DeviceError(f"{where}: id {table['id']!r} must be the machine's slug in Fabbooking")
            machines.append(MachineConfig(table["id"], _source(table, where), limits))
        config = Config(
            site=site, gateway=gateway, broker=broker,
            password=os.environ.get("FABBOOKING_GATEWAY_PASSWORD") or data.get("password"),
            queue=Path(data.get("queue", "/var/lib/fabbooking-gateway/queue.sqlite3")), machines=machines,
            sample_every_s=float(data.get("sample_every_s", 2)),
            heartbeat_every_s=float(data.get("heartbeat_every_s", 300)),
            reconnect_max_s=float(data.get("reconnect_max_s", 60)), mqtt_version=int(data.get("mqtt_version", 4)))
    except KeyError as exc:
        raise DeviceError(f"{path}: {exc.args[0]!r} is missing") from None
    except (TypeError, ValueError) as exc:
        raise DeviceError(f"{path}: {exc}") from None
    for value, what in ((config.site, "site"), (config.gateway, "gateway")):
        if not valid_segment(value):
            raise DeviceError(f"{path}: {what} {value!r} must be the slug/id registered in Fabbooking")
    if not machines:
        raise DeviceError(f"{path}: add at least one [[machine]]")
    return config


# --- the gateway ---------------------------------------------------------------------------

@dataclass
class _Meter:
    """One machine's detection state, kept on disk between runs."""

    detector: object
    energy_wh: float = 0.0  # integrated from the samples: the detector's "meter"
    watts: float | None = None
    at: datetime | None = None
    saved_at: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict:
        return {"detector": detector_to_dict(self.detector), "energy_wh": self.energy_wh, "watts": self.watts,
                "at": self.at.isoformat() if self.at else None}


class Gateway:
    def __init__(self, config: Config, clock=lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.clock = clock
        self.queue = DiskQueue(config.queue)
        self.queue.mark_replay()  # left from a previous run: it goes out late
        self.meters: dict[str, _Meter] = {}
        for machine in config.machines:
            saved = self.queue.load_state(machine.id) or {}
            self.meters[machine.id] = _Meter(detector_from_dict(saved.get("detector")), saved.get("energy_wh", 0.0),
                                             saved.get("watts"), datetime.fromisoformat(saved["at"]) if saved.get("at") else None)
        self.connected = threading.Event()
        self._greet = threading.Event()  # set by paho on connect; the main loop says hello
        self._acks: SimpleQueue[tuple[int, bool]] = SimpleQueue()
        self._in_flight: dict[int, int] = {}  # paho mid → queue row
        self._last_heartbeat = 0.0
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        c = self.config
        client = new_client(c.gateway, c.broker, c.gateway, c.password,
                            Will(status_topic(c.site, c.gateway), build_status("lost")), mqtt5=c.mqtt_version == 5)
        client.reconnect_delay_set(min_delay=1, max_delay=max(int(c.reconnect_max_s), 1))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    # paho's thread: hand over only
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("the broker refused the connection: %s (check gateway id and password)", reason_code)
            return
        self.connected.set()
        self._greet.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("lost the broker (%s); events wait on disk", reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acks.put((mid, not reason_code.is_failure))

    # the main loop
    def start(self) -> None:
        self._client.connect_async(self.config.broker.host, self.config.broker.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        """Say "lost" (a clean stop sends no last will), disconnect, close the queue."""
        if self.connected.is_set():
            self._client.publish(status_topic(self.config.site, self.config.gateway), build_status("lost"),
                                 qos=1, retain=True).wait_for_publish(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()
        self._take_acks()
        self.queue.close()

    def run(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.is_set():
                started = time.monotonic()
                self.tick()
                stop.wait(max(self.config.sample_every_s - (time.monotonic() - started), 0))
        finally:
            self.stop()

    def tick(self) -> None:
        for machine in self.config.machines:
            try:
                watts = machine.source.read_watts()
            except SourceError as exc:
                log.warning("%s: %s", machine.id, exc)
                continue
            self.sample(machine, watts, self.clock())
        self._take_acks()
        if self.connected.is_set():
            if self._greet.is_set():
                self._greet.clear()
                self._hello()
            elif time.monotonic() - self._last_heartbeat >= self.config.heartbeat_every_s:
                self._announce("heartbeat")
            self._send_queued()

    def sample(self, machine: MachineConfig, watts: float, at: datetime) -> None:
        meter = self.meters[machine.id]
        if meter.at is not None and at <= meter.at:
            return
        if meter.at is not None and meter.watts is not None:
            meter.energy_wh += (meter.watts + watts) / 2 * (at - meter.at).total_seconds() / 3600
        meter.watts, meter.at = watts, at
        before = meter.detector
        meter.detector, detected = feed(before, Reading(at, watts, round(meter.energy_wh, 3)), machine.thresholds)
        changed = detected or (before.running, before.above_since, before.below_since) != (
            meter.detector.running, meter.detector.above_since, meter.detector.below_since)
        if changed or time.monotonic() - meter.saved_at > SAVE_STATE_EVERY_S:
            events = [self._event(machine.id, job) for job in detected]
            self.queue.put(events, replay=not self.connected.is_set(), queued_at=at,
                           states={machine.id: meter.as_dict()})
            meter.saved_at = time.monotonic()
            for msg_id, _, _ in events:
                log.info("%s: queued %s", machine.id, msg_id)

    def _event(self, machine: str, job: DetectedJob) -> tuple[str, str, bytes]:
        msg_id = f"{machine}-{job.key}-{job.event}"  # stable: the same job's event keeps its id on every retry
        if job.event == "job_started":
            event = UsageEvent(msg_id, job.at, "job_started", Job(job.key, started_at=job.started_at))
        else:  # job_finished (a gateway that samples its own sensor never sees the plug vanish)
            duration = round((job.at - job.started_at).total_seconds(), 1)
            event = UsageEvent(msg_id, job.at, "job_finished", Job(job.key, started_at=job.started_at,
                                                                   duration_s=duration), energy_wh=job.energy_wh)
        return msg_id, event_topic(self.config.site, self.config.gateway, machine), build_event(event)

    def _hello(self) -> None:
        c = self.config
        self._client.publish(status_topic(c.site, c.gateway), build_status("ready"), qos=1, retain=True)
        self._announce("hello")

    def _announce(self, why: str) -> None:
        """Live news, not queued: a heartbeat, or "still running" for a job under way."""
        now = self.clock()
        for machine, meter in self.meters.items():
            d = meter.detector
            if d.running and d.started_at is not None and why == "hello":  # job_started is idempotent by job key
                key = job_key(d.started_at)
                event = UsageEvent(f"{machine}-{key}-still-{int(now.timestamp())}", now, "job_started",
                                   Job(key, started_at=d.started_at))
            else:
                event = UsageEvent(f"hb-{machine}-{int(now.timestamp())}", now, "heartbeat")
            self._client.publish(event_topic(self.config.site, self.config.gateway, machine), build_event(event), qos=1)
        self._last_heartbeat = time.monotonic()

    def _send_queued(self) -> None:
        room = MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return
        for row, _msg_id, topic, payload, replay in self.queue.pending(room, set(self._in_flight.values())):
            if replay:  # same msg_id, flagged: the server takes it once and knows it came late
                payload = json.dumps({**json.loads(payload), "replay": True}, separators=(",", ":")).encode()
            info = self._client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break  # the connection just dropped: paho resends what it has, the rest waits
            self._in_flight[info.mid] = row

    def _take_acks(self) -> None:
        done, refused = [], []
        while True:
            try:
                mid, accepted = self._acks.get_nowait()
            except Empty:
                break
            row = self._in_flight.pop(mid, None)
            if row is not None:
                (done if accepted else refused).append(row)
        self.queue.delete(done)  # only now is an event off the disk
        if refused:
            log.error("the broker refused %d events (ACL?); they stay queued", len(refused))

    def queued(self) -> int:
        return self.queue.count()


# --- command line --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devices.gateway", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("/etc/fabbooking-gateway.toml"), help="TOML file")
    parser.add_argument("--check", action="store_true", help="read each source once, print the watts, exit")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        ok = True
        for machine in config.machines:
            try:
                print(f"{machine.id}: {machine.source.read_watts():.1f} W")
            except SourceError as exc:
                print(f"{machine.id}: {exc}", file=sys.stderr)
                ok = False
        return 0 if ok else 1
    stop = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"gateway {config.gateway} → {config.broker.url}, machines: "
          f"{', '.join(shlex.quote(m.id) for m in config.machines)}, queue: {config.queue}", flush=True)
    try:
        Gateway(config).run(stop)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
