"""Play a fab space's gateways and devices against an MQTT broker: realistic jobs (lengths,
files, material, ~10 % failures, some cancellations), power curves of metering plugs,
OctoPrint's and Klipper's own messages, offline spells — fast (``speed``) and repeatable
(``seed``).

From Python (tests)::

    with Simulation("127.0.0.1", 1883, [MachineSpec("prusa-mini", "contract"),
                                       MachineSpec("laser", "tasmota", "laser-plug")],
                    site="papifab-bellevue", gateway="gw-bellevue", seed=1, speed=600) as sim:
        run = sim.run_jobs(5)          # blocks until every message is out
        run.jobs, run.messages         # what the server should record, what went out

From a shell::

    python -m devices.simulator --broker mqtt://127.0.0.1:1883 --site papifab-bellevue \\
        --gateway gw-bellevue --machine prusa-mini:contract --machine laser:tasmota:laser-plug \\
        --jobs 5 --speed 600

Simulated time ends "now": a run at speed 600 that covers ten hours starts its clock ten
hours (less one minute) in the past, so no timestamp is ever ahead of the real clock (the
server refuses contract events more than 5 minutes ahead). sim_devices.py says which
devices stamp simulated time and which the wall clock.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import paho.mqtt.client as mqtt

from devices.mqtt_common import (
    Broker,
    DeviceError,
    connect_blocking,
    new_client,
    parse_broker_url,
)
from devices.sim_contract import ContractGateway, ContractMachine
from devices.sim_devices import (
    Device,
    Klipper,
    Moment,
    OctoPrint,
    Out,
    Shelly,
    SimJob,
    Tasmota,
)
from devices.sim_plan import (
    FORMATS,
    JobScript,
    MachineSpec,
    PlannedJob,
    Step,
    device_steps,
    plan_jobs,
    span_s,
)
from fabbooking.usage.contract import MAX_AGE, build_status, valid_segment

DEVICE_CLASSES = {"tasmota": Tasmota, "shelly": Shelly, "octoprint": OctoPrint, "klipper": Klipper}
__all__ = ["JobScript", "MachineSpec", "Published", "Run", "SimJob", "Simulation", "main"]


@dataclass(frozen=True)
class Published:
    machine: str | None
    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: datetime  # wall clock


@dataclass(frozen=True)
class Plan:
    virtual_start: datetime
    speed: float
    jobs: dict[str, list[PlannedJob]]
    steps: dict[str, list[Step]]
    span_s: float


@dataclass
class Run:
    plan: Plan
    jobs: list[SimJob] = field(default_factory=list)
    messages: list[Published] = field(default_factory=list)

    def for_machine(self, name: str) -> list[SimJob]:
        return [j for j in self.jobs if j.machine == name]


class Simulation:
    def __init__(self, broker_host: str = "127.0.0.1", broker_port: int = 1883, machines=(), *,
                 site: str = "papifab-bellevue", gateway: str = "gw-bellevue", seed: int = 1,
                 speed: float = 600.0, password: str | None = None, device_username: str | None = None,
                 device_password: str | None = None, tls: bool = False, timezone: str = "Europe/Paris",
                 on_publish=None, keep_messages: bool = True) -> None:
        if not machines:
            raise ValueError("give at least one machine")
        if speed < 1:
            raise ValueError("speed must be at least 1 (1 = real time)")
        for ident, what in ((site, "site"), (gateway, "gateway")):
            if not valid_segment(ident):
                raise ValueError(f"{what} id {ident!r}: use lowercase letters, digits, '-' and '_'")
        names = [m.name for m in machines]
        if len(set(names)) != len(names):
            raise ValueError("two machines have the same id")
        self.broker = Broker(broker_host, broker_port, tls=tls)
        self.specs = {m.name: m for m in machines}
        self.site, self.seed, self.speed = site, seed, float(speed)
        self.password, self.device_username, self.device_password = password, device_username, device_password
        self.tz = ZoneInfo(timezone)
        self.on_publish = on_publish
        self.keep_messages = keep_messages  # off for a demo that plays for days
        self.gateways: dict[str, ContractGateway] = {}
        self.devices: dict[str, Device] = {}
        for spec in machines:
            if spec.format == "contract":
                ident = spec.gateway or gateway
                gw = self.gateways.setdefault(ident, ContractGateway(site, ident))
                peers = [m.name for m in machines if m.format == "contract" and (m.gateway or gateway) == ident]
                self.devices[spec.name] = ContractMachine(spec, self.tz, gw, peers)
            else:
                self.devices[spec.name] = DEVICE_CLASSES[spec.format](spec, self.tz)
        self.clients: dict[str, mqtt.Client] = {}
        self.messages: list[Published] = []
        self._lock = threading.Lock()
        self._last_sent: dict[str, float] = {}
        self._stop = threading.Event()
        self._connected = False

    # --- connections ------------------------------------------------------------------

    def connect(self) -> None:
        if self._connected:
            return
        now = datetime.now(UTC)
        moment = Moment(now, now)
        for ident, gw in self.gateways.items():
            client = new_client(ident, self.broker, ident, self.password, gw.will())
            connect_blocking(client, self.broker)
            self.clients[ident] = client
            self._publish(None, [Out(gw.will().topic, build_status("ready"), 1, True)], client)
        for name, device in self.devices.items():
            if isinstance(device, ContractMachine):
                self.clients[name] = self.clients[device.gateway.ident]
            else:
                client = new_client(device.client_id(), self.broker, self.device_username, self.device_password,
                                    device.will())
                connect_blocking(client, self.broker)
                self.clients[name] = client
            self._publish(name, device.birth(moment))
        self._connected = True

    def __enter__(self) -> Simulation:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self, offline: bool = False) -> None:
        """Disconnect; with ``offline`` the devices first say they are gone (as if unplugged)."""
        self._stop.set()
        if offline and self._connected:
            for name in self.devices:
                self.go_offline(name)
        for client in {id(c): c for c in self.clients.values()}.values():
            client.disconnect()
            client.loop_stop()
        self.clients.clear()
        self._connected = False

    def _publish(self, machine: str | None, outs: list[Out], client: mqtt.Client | None = None) -> list[Published]:
        client = client or self.clients[machine]
        sent = []
        for out in outs:
            info = client.publish(out.topic, out.payload, qos=out.qos, retain=out.retain)
            info.wait_for_publish(timeout=30)
            if not info.is_published():
                raise DeviceError(f"the broker did not take {out.topic} within 30 s")
            record = Published(machine, out.topic, out.payload, out.qos, out.retain, datetime.now(UTC))
            sent.append(record)
            if self.on_publish:
                self.on_publish(record)
        with self._lock:
            if self.keep_messages:
                self.messages.extend(sent)
            if machine is not None:
                self._last_sent[machine] = time.monotonic()
        return sent

    # --- planning and playing ---------------------------------------------------------

    def plan(self, n: int, scripts: dict[str, list[JobScript]] | None = None) -> Plan:
        """``n`` jobs per machine; ``scripts`` forces the fate of some machines' jobs."""
        if n < 1:
            raise ValueError("give at least one job")
        jobs, steps, spans = {}, {}, []
        for name, spec in self.specs.items():
            jobs[name] = plan_jobs(spec, n, self.seed, (scripts or {}).get(name))
            period = max(spec.tele_period_s, self.devices[name].min_gap_s * self.speed)
            waits = spec.telemetry(self.speed)
            confirm = bool(waits.get("start_after_s") or waits.get("stop_after_s"))
            steps[name] = device_steps(spec, jobs[name], period, self.seed, confirm)
            spans.append(max(span_s(spec, jobs[name]), max((s.at_s for s in steps[name]), default=0) + 1))
        span = max(spans)
        behind = timedelta(seconds=span * (1 - 1 / self.speed))
        if behind > MAX_AGE - timedelta(days=1):
            raise ValueError(f"{n} jobs cover {span / 86400:.0f} simulated days: fewer jobs, please "
                             "(the server refuses events more than 30 days old)")
        return Plan(datetime.now(UTC) - behind, self.speed, jobs, steps, span)

    def run_jobs(self, n: int, scripts: dict[str, list[JobScript]] | None = None) -> Run:
        return self.play(self.plan(n, scripts))

    def play(self, plan: Plan) -> Run:
        self.connect()
        for device in self.devices.values():
            device.jobs = {}
        first = len(self.messages)
        wall0 = time.monotonic()
        errors: list[BaseException] = []
        threads = [threading.Thread(target=self._play_device, args=(name, plan, wall0, errors),
                                    name=f"sim-{name}", daemon=True) for name in plan.steps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        jobs = []
        for device in self.devices.values():
            for sim in device.jobs.values():
                if isinstance(device, ContractMachine):
                    sim.replayed = sim.key in device.gateway.replayed
                jobs.append(sim)
        jobs.sort(key=lambda j: (j.machine, j.number))
        return Run(plan, jobs, self.messages[first:])

    def play_live(self, plan_round: Callable[[MachineSpec, int], list[PlannedJob]]) -> None:
        """Play every machine in real time (simulated time is the wall clock), round after
        round, each machine at its own pace: ``plan_round(spec, number)`` gives a round's jobs.
        Returns once close() is called; the first device error stops every machine and is
        raised (a broker gone away, for instance)."""
        self.connect()
        errors: list[BaseException] = []

        def machine(name: str) -> None:
            spec, device = self.specs[name], self.devices[name]
            number = 0
            while not self._stop.is_set() and not errors:
                jobs = plan_round(spec, number)
                steps = device_steps(spec, jobs, max(spec.tele_period_s, device.min_gap_s), self.seed)
                device.jobs = {}
                plan = Plan(datetime.now(UTC), 1.0, {name: jobs}, {name: steps},
                            max((s.at_s for s in steps), default=0.0) + 1)
                self._play_device(name, plan, time.monotonic(), errors)
                number += 1
            self._stop.set()  # one machine failing (or close()) ends them all

        threads = [threading.Thread(target=machine, args=(name,), name=f"sim-live-{name}", daemon=True)
                   for name in self.devices]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _play_device(self, name: str, plan: Plan, wall0: float, errors: list) -> None:
        device = self.devices[name]
        lag = 0.0
        try:
            for step in plan.steps[name]:
                target = wall0 + step.at_s / plan.speed + lag
                gap, last = device.gap_before(step.action), self._last_sent.get(name)
                if gap and last is not None and target < last + gap:
                    lag += last + gap - target
                    target = last + gap
                if self._stop.wait(max(target - time.monotonic(), 0)):
                    return
                moment = Moment(plan.virtual_start + timedelta(seconds=step.at_s), datetime.now(UTC))
                self._publish(name, getattr(device, step.action)(moment, **step.args))
        except BaseException as exc:  # noqa: BLE001 - handed to play(), which raises it
            errors.append(exc)

    # --- offline spells on demand ---------------------------------------------------

    def go_offline(self, machine: str) -> list[Published]:
        """The machine's device (or its contract gateway) drops off the network now."""
        now = datetime.now(UTC)
        return self._publish(machine, self.devices[machine].offline(Moment(now, now)))

    def come_back(self, machine: str) -> list[Published]:
        now = datetime.now(UTC)
        device = self.devices[machine]
        if isinstance(device, (Tasmota, Shelly)):
            return self._publish(machine, device.online(Moment(now, now), device.spec.standby_w))
        return self._publish(machine, device.online(Moment(now, now)))


# --- command line ----------------------------------------------------------------------

def _machine_arg(text: str) -> MachineSpec:
    parts = text.split(":", 2)
    if len(parts) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME:FORMAT[:DEVICE_TOPIC], e.g. laser:tasmota:laser-plug")
    if parts[1] not in FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: format {parts[1]!r} is not one of {', '.join(FORMATS)}")
    if parts[1] == "contract" and len(parts) == 3:
        raise argparse.ArgumentTypeError(f"{text!r}: a contract machine has no device topic (it uses --gateway)")
    try:
        return MachineSpec(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(kind):
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devices.simulator", description=(
        "Play a fab space's gateways and devices against an MQTT broker, for demos and tests."))
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1884",
                        help="mqtt://HOST[:PORT] or mqtts://… (default: the broker embedded in 'fabbooking serve')")
    parser.add_argument("--site", default="papifab-bellevue", help="site slug in Fabbooking")
    parser.add_argument("--gateway", default="gw-bellevue", help="gateway id (MQTT user) of contract machines")
    parser.add_argument("--password", default=os.environ.get("FABBOOKING_GATEWAY_PASSWORD"),
                        help="the gateway's MQTT password (default: $FABBOOKING_GATEWAY_PASSWORD)")
    parser.add_argument("--device-username", help="MQTT user of the simulated plugs and printers")
    parser.add_argument("--device-password", default=os.environ.get("FABBOOKING_DEVICE_PASSWORD"))
    parser.add_argument("--machine", action="append", type=_machine_arg, required=True, metavar="NAME:FORMAT[:TOPIC]",
                        help=f"a machine to simulate; FORMAT is one of {', '.join(FORMATS)} (repeat the option)")
    parser.add_argument("--jobs", type=_positive(int), default=5, help="jobs per machine (default 5)")
    parser.add_argument("--speed", type=_positive(float), default=600.0,
                        help="simulated seconds per real second (default 600: an hour in 6 s; 1 = real time)")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same jobs (default 1)")
    parser.add_argument("--timezone", default="Europe/Paris", help="the site's timezone (Tasmota clocks)")
    parser.add_argument("--quiet", action="store_true", help="do not print every message")
    parser.add_argument("--stay-online", action="store_true", help="leave the devices online when done")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        broker = parse_broker_url(args.broker)
        ZoneInfo(args.timezone)
    except DeviceError as exc:
        parser.error(str(exc))
    except (ZoneInfoNotFoundError, ValueError):
        parser.error(f"unknown timezone {args.timezone!r}")
    if args.speed < 1:
        parser.error("--speed must be at least 1")

    def show(record: Published) -> None:
        if not args.quiet:
            print(f"{record.at:%H:%M:%S} {record.topic} {record.payload.decode(errors='replace')}", flush=True)

    try:
        sim = Simulation(broker.host, broker.port, args.machine, site=args.site, gateway=args.gateway,
                         seed=args.seed, speed=args.speed, password=args.password or broker.password,
                         device_username=args.device_username or broker.username,
                         device_password=args.device_password, tls=broker.tls, timezone=args.timezone,
                         on_publish=show)
        plan = sim.plan(args.jobs)
    except ValueError as exc:
        parser.error(str(exc))
    print("Fabbooking must know these machines (telemetry settings for this speed):")
    for spec in args.machine:
        extra = f" gateway={spec.gateway or args.gateway}" if spec.format == "contract" else ""
        print(f"  {spec.name}: " + " ".join(f"{k}={v}" for k, v in spec.telemetry(args.speed).items()) + extra)
    print(f"Simulating {plan.span_s / 3600:.1f} h in {plan.span_s / args.speed:.0f} s …", flush=True)
    try:
        sim.connect()
        run = sim.play(plan)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sim.close(offline=not args.stay_online)
        return 130
    sim.close(offline=not args.stay_online)
    for job in run.jobs:
        print(f"{job.machine:>16} #{job.number} {job.outcome:<11} {job.file or '':<28} "
              f"{job.started_at:%Y-%m-%d %H:%M:%S} → {job.ended_at:%H:%M:%S}")
    print(f"{len(run.messages)} messages published.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
