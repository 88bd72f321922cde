"""Planning a simulated fab space: which jobs each machine runs, how long, how they end,
when devices drop off the network, and the power curve of metered machines. Pure and
deterministic: one seed gives one plan (each machine draws from its own random stream, so
adding a machine does not change the others' jobs).

Times here are simulated seconds after the plan's start; the player (simulator.py) turns
them into wall-clock waits divided by ``speed``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from fabbooking.usage.contract import valid_segment

FORMATS = ("contract", "tasmota", "shelly", "octoprint", "klipper")
PLUGS = ("tasmota", "shelly")
OUTCOMES = ("completed", "failed", "cancelled", "interrupted")
PRINTER_FILES = ("support-casque.gcode", "engrenage-m3.gcode", "boitier-rpi4.gcode", "korrigan.gcode",
                 "clip-velo.gcode", "porte-cles-papifab.gcode", "pot-succulente.gcode", "charniere.gcode")
LASER_FILES = ("boite-5mm.lbrn2", "panneau-papifab.svg", "marque-page.lbrn2", "puzzle-bois.svg",
               "enseigne-pmma.lbrn2", "dessous-de-plat.svg")
FILAMENTS = ("PLA", "PLA", "PLA", "PETG", "TPU")
SHEETS = ("contreplaqué 3 mm", "MDF 5 mm", "PMMA 3 mm", "carton 2 mm")
MM_PER_GRAM = 335.0  # 1.75 mm filament, density 1.24


@dataclass(frozen=True)
class MachineSpec:
    """One simulated machine. ``device_topic`` defaults by format; ``gateway`` (contract only)
    defaults to the simulation's gateway. Watts matter for plugs: the chiller/fans draw
    ``standby_w``, cutting draws about ``cutting_w``; Fabbooking's thresholds ``idle_w`` and
    ``start_w`` sit between the two (hysteresis)."""

    name: str
    format: str
    device_topic: str | None = None
    gateway: str | None = None
    kind: str | None = None  # "printer" | "laser"
    standby_w: float = 35.0
    cutting_w: float = 900.0
    idle_w: float = 60.0
    start_w: float = 200.0
    tele_period_s: float = 60.0

    def __post_init__(self) -> None:
        if not valid_segment(self.name):
            raise ValueError(f"machine id {self.name!r}: use lowercase letters, digits, '-' and '_'")
        if self.format not in FORMATS:
            raise ValueError(f"machine {self.name}: format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.gateway is not None and (self.format != "contract" or not valid_segment(self.gateway)):
            raise ValueError(f"machine {self.name}: a gateway id only goes with the contract format")
        if self.kind not in (None, "printer", "laser"):
            raise ValueError(f"machine {self.name}: kind must be printer or laser")
        if not 0 <= self.standby_w < self.idle_w < self.start_w < self.cutting_w:
            raise ValueError(f"machine {self.name}: need standby_w < idle_w < start_w < cutting_w")
        if self.device_topic is not None and (not self.device_topic or any(c in self.device_topic for c in "#+")):
            raise ValueError(f"machine {self.name}: device topic {self.device_topic!r} is not a plain topic")

    @property
    def topic(self) -> str:
        if self.device_topic:
            return self.device_topic
        return {"shelly": f"shellyplusplugs-{self.name}", "octoprint": f"octoPrint/{self.name}"}.get(
            self.format, self.name)

    @property
    def machine_kind(self) -> str:
        return self.kind or ("laser" if self.format in PLUGS else "printer")

    def telemetry(self, speed: float) -> dict:
        """The machine's telemetry settings in Fabbooking for a run at ``speed``: plugs are
        dated by their own clock, so a sped-up run needs the waits divided by ``speed``."""
        values: dict = {"format": self.format}
        if self.format != "contract":
            values["device_topic"] = self.topic
        if self.format in PLUGS:
            values.update(start_w=self.start_w, idle_w=self.idle_w,
                          start_after_s=int(round(30 / speed)), stop_after_s=int(round(120 / speed)))
        return values


@dataclass(frozen=True)
class JobScript:
    """Force a job's fate instead of drawing it. ``offline``: "after" puts an offline spell
    after the job; "during" cuts the device off mid-job (plugs: the job ends ``interrupted``;
    a contract gateway buffers its events and replays them)."""

    outcome: str = "completed"
    offline: str | None = None


@dataclass(frozen=True)
class PlannedJob:
    machine: str
    number: int
    start_s: float
    duration_s: float  # how long the machine really worked
    outcome: str
    file: str
    material: str
    grams: float | None
    length_mm: float | None
    offline: str | None = None
    offline_at_s: float | None = None
    offline_for_s: float = 0.0
    dip_at_s: float | None = None  # plugs: power sags between the thresholds for a moment
    pause_at_s: float | None = None  # klipper: the maker pauses to change filament

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Step:
    at_s: float
    action: str  # a method of the device: power, job_start, job_progress, job_end, offline, online, …
    args: dict = field(default_factory=dict)


def _check_script(spec: MachineSpec, script: JobScript) -> None:
    if script.outcome not in OUTCOMES:
        raise ValueError(f"outcome {script.outcome!r} is not one of {', '.join(OUTCOMES)}")
    if script.offline not in (None, "after", "during"):
        raise ValueError("offline must be None, 'after' or 'during'")
    plug = spec.format in PLUGS
    if plug and script.outcome in ("failed", "cancelled"):
        raise ValueError(f"{spec.name}: a metering plug cannot tell a {script.outcome} job (only power)")
    if (script.outcome == "interrupted") != (plug and script.offline == "during"):
        raise ValueError(f"{spec.name}: 'interrupted' is exactly a plug going offline during the job")
    if script.offline == "during" and spec.format in ("octoprint", "klipper"):
        raise ValueError(f"{spec.name}: offline spells of printers are planned between jobs")


def _draw_script(spec: MachineSpec, rng: random.Random) -> JobScript:
    roll = rng.random()
    if spec.format in PLUGS:
        return JobScript("interrupted", "during") if roll < 0.08 else JobScript(
            "completed", "after" if rng.random() < 0.1 else None)
    outcome = "failed" if roll < 0.10 else "cancelled" if roll < 0.17 else "completed"
    spell = rng.random()
    offline = "during" if spec.format == "contract" and spell < 0.05 else "after" if spell < 0.12 else None
    return JobScript(outcome, offline)


def plan_jobs(spec: MachineSpec, n: int, seed: int, scripts: list[JobScript] | None = None) -> list[PlannedJob]:
    rng = random.Random(f"{seed}:{spec.name}")
    printer = spec.machine_kind == "printer"
    t = rng.uniform(120, 900)
    jobs = []
    for number in range(n):
        script = scripts[number] if scripts and number < len(scripts) else _draw_script(spec, rng)
        _check_script(spec, script)
        nominal = (min(max(rng.lognormvariate(math.log(75 * 60), 0.5), 20 * 60), 5 * 3600) if printer
                   else rng.uniform(4, 40) * 60)
        share = rng.uniform(0.1, 0.7) if script.outcome in ("failed", "cancelled") else 1.0
        duration = round(nominal * share)
        file = rng.choice(PRINTER_FILES if printer else LASER_FILES)
        material = rng.choice(FILAMENTS if printer else SHEETS)
        grams = round(duration / 3600 * rng.uniform(8, 14), 1) if printer else None
        offline_at, offline_for = None, 0.0
        if script.offline == "during":
            offline_at = t + duration * rng.uniform(0.3, 0.7)
            offline_for = max(rng.uniform(5, 20) * 60, t + duration - offline_at + 60)
        elif script.offline == "after":
            offline_at, offline_for = t + duration + rng.uniform(60, 300), rng.uniform(5, 20) * 60
        jobs.append(PlannedJob(
            spec.name, number + 1, round(t, 1), duration, script.outcome, file, material, grams,
            round(grams * MM_PER_GRAM, 1) if grams is not None else None, script.offline,
            round(offline_at, 1) if offline_at is not None else None, round(offline_for, 1),
            dip_at_s=round(t + duration * rng.uniform(0.2, 0.5), 1) if not printer and rng.random() < 0.6 else None,
            pause_at_s=(round(t + duration * 0.4, 1) if spec.format == "klipper" and duration > 1800
                        and rng.random() < 0.25 else None)))
        t += duration + rng.uniform(10, 45) * 60
        if offline_at is not None:
            t = max(t, offline_at + offline_for + 300)
    return jobs


def tail_s(spec: MachineSpec) -> float:
    """Quiet time after the last job: a plug must report standby long enough to end it."""
    return max(3 * spec.tele_period_s, 300.0)


def span_s(spec: MachineSpec, jobs: list[PlannedJob]) -> float:
    ends = [j.end_s for j in jobs] + [j.offline_at_s + j.offline_for_s for j in jobs if j.offline_at_s]
    return max(ends, default=0.0) + tail_s(spec) + 1


def device_steps(spec: MachineSpec, jobs: list[PlannedJob], period_s: float, seed: int,
                 confirm: bool = True) -> list[Step]:
    """The timeline of one device: what happens when (the device class renders each step).
    ``confirm``: every power phase gets a second reading, for thresholds that wait."""
    if spec.format in PLUGS:
        return _plug_steps(spec, jobs, period_s, random.Random(f"{seed}:{spec.name}:power"), confirm)
    steps: list[Step] = []
    for job in jobs:
        steps.append(Step(job.start_s, "job_start", {"job": job}))
        for fraction in (0.25, 0.5, 0.75):
            at = job.start_s + job.duration_s * fraction
            if job.pause_at_s is not None and at > job.pause_at_s:
                at += 300  # the pause below lasts five minutes
            if at < job.end_s:
                steps.append(Step(at, "job_progress", {"job": job, "fraction": fraction}))
        if job.pause_at_s is not None:
            steps.append(Step(job.pause_at_s, "job_pause", {"job": job}))
            steps.append(Step(job.pause_at_s + 300, "job_resume", {"job": job}))
        steps.append(Step(job.end_s, "job_end", {"job": job}))
        if job.offline_at_s is not None:
            steps.append(Step(job.offline_at_s, "offline"))
            steps.append(Step(job.offline_at_s + job.offline_for_s, "online"))
    last = max((s.at_s for s in steps), default=0.0)
    steps.append(Step(last + tail_s(spec), "heartbeat"))
    return sorted(steps, key=lambda s: s.at_s)


def _plug_steps(spec: MachineSpec, jobs: list[PlannedJob], period: float, rng: random.Random,
                confirm: bool) -> list[Step]:
    steps: list[Step] = []

    def readings(start: float, end: float, level: float, force: bool = False) -> None:
        """Periodic telemetry in [start, end); with ``confirm`` at least one per phase."""
        times = [start + k * period for k in range(1, int((end - start) / period) + 1) if start + k * period < end - 1]
        for at in times or ([(start + end) / 2] if (confirm or force) and end - start > 2 else []):
            steps.append(Step(at, "power", {"watts": _jitter(level, rng)}))

    t = 0.0
    for job in jobs:
        readings(t, job.start_s, spec.standby_w)
        steps.append(Step(job.start_s, "power", {"watts": _jitter(spec.cutting_w, rng), "job": job, "mark": "start"}))
        stop = job.offline_at_s if job.outcome == "interrupted" else job.end_s
        cursor = job.start_s
        if job.dip_at_s is not None and job.dip_at_s < stop - 60:
            readings(cursor, job.dip_at_s, spec.cutting_w)
            steps.append(Step(job.dip_at_s, "power", {"watts": round((spec.idle_w + spec.start_w) / 2)}))
            steps.append(Step(job.dip_at_s + 45, "power", {"watts": _jitter(spec.cutting_w, rng)}))
            cursor = job.dip_at_s + 45
        readings(cursor, stop, spec.cutting_w, force=job.outcome == "interrupted")  # it reported before the cut
        if job.outcome == "interrupted":
            steps.append(Step(job.offline_at_s, "offline", {"job": job, "mark": "end"}))
            t = job.offline_at_s + job.offline_for_s
            steps.append(Step(t, "online", {"watts": spec.standby_w}))
        else:
            steps.append(Step(job.end_s, "power", {"watts": _jitter(spec.standby_w, rng), "job": job, "mark": "end"}))
            t = job.end_s
            if job.offline_at_s is not None:
                readings(t, job.offline_at_s, spec.standby_w)
                steps.append(Step(job.offline_at_s, "offline"))
                t = job.offline_at_s + job.offline_for_s
                steps.append(Step(t, "online", {"watts": spec.standby_w}))
    readings(t, t + tail_s(spec), spec.standby_w)
    return sorted(steps, key=lambda s: s.at_s)


def _jitter(watts: float, rng: random.Random) -> float:
    return round(watts * rng.uniform(0.9, 1.1)) if watts > 100 else round(watts * rng.uniform(0.95, 1.05), 1)


def plan_live_jobs(spec: MachineSpec, n: int, seed: str, soon: bool = False, pace: float = 1.0) -> list[PlannedJob]:
    """A round of ``n`` jobs for a demo that plays in real time: jobs of a few minutes every
    few minutes, so a visitor sees machines go busy and idle while they look. Printers may
    fail or be cancelled; nothing drops off the network (a demo that looks broken helps
    nobody). ``soon``: the first job starts within seconds (a server that just started);
    ``pace`` > 1 makes jobs and pauses that many times shorter."""
    rng = random.Random(f"live:{seed}:{spec.name}")
    printer = spec.machine_kind == "printer"
    t = (rng.uniform(3, 15) if soon else rng.uniform(60, 240)) / pace
    jobs = []
    for number in range(n):
        roll = rng.random()
        outcome = "completed" if not printer or roll >= 0.12 else "failed" if roll < 0.07 else "cancelled"
        duration = round((rng.uniform(180, 480) if printer else rng.uniform(120, 360)) / pace)
        if outcome != "completed":
            duration = round(duration * rng.uniform(0.3, 0.7))
        grams = round(rng.uniform(4, 25), 1) if printer else None
        stop = t + duration
        jobs.append(PlannedJob(
            spec.name, number + 1, round(t, 1), duration, outcome,
            rng.choice(PRINTER_FILES if printer else LASER_FILES), rng.choice(FILAMENTS if printer else SHEETS),
            grams, round(grams * MM_PER_GRAM, 1) if grams is not None else None,
            dip_at_s=round(t + duration * rng.uniform(0.2, 0.5), 1) if not printer and rng.random() < 0.3 else None))
        t = stop + rng.uniform(120, 360) / pace
    return jobs
