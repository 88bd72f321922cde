"""A simulated contract v1 gateway and the machines behind it. It stamps simulated time
(the server trusts ``ts``), buffers its events while cut off from the broker and replays them
(``replay: true``, same msg_id), then says what each machine is doing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from devices.mqtt_common import Will
from devices.sim_devices import Device, Moment, Out
from devices.sim_plan import MachineSpec, PlannedJob
from fabbooking.usage.contract import (
    Job,
    Material,
    UsageEvent,
    build_event,
    build_status,
    event_topic,
    status_topic,
)


@dataclass
class ContractGateway:
    """A gateway speaking contract v1 for some machines: while it is cut off from the broker
    it buffers events, then replays them (``replay: true``, same msg_id)."""

    site: str
    ident: str
    down: int = 0
    buffer: list[tuple[str, UsageEvent]] = field(default_factory=list)
    running: dict[str, Job] = field(default_factory=dict)
    replayed: set[str] = field(default_factory=set)  # job keys whose events went out late
    lock: threading.RLock = field(default_factory=threading.RLock)

    def will(self) -> Will:
        return Will(status_topic(self.site, self.ident), build_status("lost"), qos=1, retain=True)

    def send(self, machine: str, event: UsageEvent) -> list[Out]:
        with self.lock:
            if event.event == "job_started":
                self.running[machine] = event.job
            elif event.job is not None:
                self.running.pop(machine, None)
            if self.down:
                self.buffer.append((machine, event))
                return []
            return [Out(event_topic(self.site, self.ident, machine), build_event(event), 1)]

    def offline(self, m: Moment) -> list[Out]:
        with self.lock:
            self.down += 1
            return [Out(status_topic(self.site, self.ident), build_status("lost"), 1, True)] if self.down == 1 else []

    def online(self, m: Moment, machines: list[str]) -> list[Out]:
        with self.lock:
            self.down = max(self.down - 1, 0)
            if self.down:
                return []
            outs = [Out(status_topic(self.site, self.ident), build_status("ready"), 1, True)]
            for machine, event in self.buffer:
                replayed = UsageEvent(event.msg_id, event.ts, event.event, event.job, event.energy_wh, replay=True)
                if event.job is not None:
                    self.replayed.add(event.job.key)
                outs.append(Out(event_topic(self.site, self.ident, machine), build_event(replayed), 1))
            self.buffer.clear()
            for machine in machines:  # say what each machine is doing now
                job = self.running.get(machine)
                stamp = int(m.virtual.timestamp())
                event = (UsageEvent(f"{job.key}-still-{stamp}", m.virtual, "job_started", job) if job
                         else UsageEvent(f"hb-{machine}-{stamp}", m.virtual, "heartbeat"))
                outs.append(Out(event_topic(self.site, self.ident, machine), build_event(event), 1))
            return outs


class ContractMachine(Device):
    stamp = "virtual"

    def __init__(self, spec: MachineSpec, tz: ZoneInfo, gateway: ContractGateway, peers: list[str]) -> None:
        super().__init__(spec, tz)
        self.gateway = gateway
        self.peers = peers  # the machines behind the same gateway

    def client_id(self) -> str:
        return self.gateway.ident

    def birth(self, m: Moment) -> list[Out]:
        return self.gateway.send(self.spec.name, UsageEvent(f"on-{self.spec.name}-{int(m.virtual.timestamp())}",
                                                            m.virtual, "power_on"))

    def heartbeat(self, m: Moment) -> list[Out]:
        return self.gateway.send(self.spec.name, UsageEvent(f"hb-{self.spec.name}-{int(m.virtual.timestamp())}",
                                                            m.virtual, "heartbeat"))

    def offline(self, m: Moment) -> list[Out]:
        return self.gateway.offline(m)

    def online(self, m: Moment) -> list[Out]:
        return self.gateway.online(m, self.peers)

    def job_start(self, m: Moment, job: PlannedJob) -> list[Out]:
        sim = self._job(job)
        sim.started_at = m.virtual.replace(microsecond=0)
        sim.key = f"{self.spec.name}-{sim.started_at:%Y%m%dT%H%M%S}"
        return self.gateway.send(self.spec.name, UsageEvent(f"{sim.key}-started", sim.started_at, "job_started",
                                                            Job(sim.key, job.file, sim.started_at)))

    def job_progress(self, m: Moment, job: PlannedJob, fraction: float) -> list[Out]:
        return self.heartbeat(m) if fraction == 0.5 else []

    def job_end(self, m: Moment, job: PlannedJob) -> list[Out]:
        sim = self._job(job)
        sim.ended_at, sim.duration_s = m.virtual.replace(microsecond=0), float(job.duration_s)
        sim.energy_wh = round(job.duration_s / 3600 * 110, 1)  # a printer averages ~110 W
        event = {"completed": "job_finished", "failed": "job_failed", "cancelled": "job_cancelled"}[job.outcome]
        done = Job(sim.key, job.file, sim.started_at, float(job.duration_s), Material(job.material, job.grams,
                                                                                       job.length_mm))
        return self.gateway.send(self.spec.name, UsageEvent(f"{sim.key}-{event}", sim.ended_at, event, done,
                                                            energy_wh=sim.energy_wh))
