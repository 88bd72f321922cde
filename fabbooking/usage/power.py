"""Finding jobs in a metered machine's power draw, with hysteresis. Pure: no I/O.

A laser cutter behind a metering plug draws a little all the time (chiller, fans) and a lot
while it cuts. A job starts when power stays at or above ``start_w`` for ``start_after_s``
seconds, and ends when it stays below ``idle_w`` for ``stop_after_s`` seconds; the job's
end is the moment power first fell. Energy is the meter's counter at the end minus at the
start. A plug that goes offline during a job ends it as ``interrupted`` at its last reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Thresholds:
    start_w: float = 50.0
    idle_w: float = 20.0
    start_after_s: float = 30.0
    stop_after_s: float = 120.0


@dataclass(frozen=True)
class Reading:
    at: datetime
    power_w: float
    energy_wh: float | None = None  # the meter's running total


@dataclass(frozen=True)
class Detector:
    """Where a machine's detection stands; kept between readings (it survives restarts)."""

    running: bool = False
    started_at: datetime | None = None
    start_energy_wh: float | None = None
    above_since: datetime | None = None
    above_energy_wh: float | None = None
    below_since: datetime | None = None
    below_energy_wh: float | None = None
    last: Reading | None = None


@dataclass(frozen=True)
class DetectedJob:
    event: str  # "job_started" | "job_finished" | "job_interrupted"
    key: str
    at: datetime
    started_at: datetime
    energy_wh: float | None = None


def job_key(started_at: datetime) -> str:
    return f"power-{int(started_at.timestamp())}"


def _energy(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:  # a meter reset gives no figure, not a wrong one
        return None
    return round(end - start, 3)


def feed(detector: Detector, reading: Reading, limits: Thresholds) -> tuple[Detector, list[DetectedJob]]:
    """Take one reading; return the new state and the jobs it starts or ends. (Each new state
    is built whole rather than with ``dataclasses.replace``: this runs for every reading.)"""
    d = detector
    if d.last is not None and reading.at <= d.last.at:
        return detector, []  # late or repeated reading: power tells nothing new
    if not d.running:
        if reading.power_w < limits.start_w:
            return Detector(False, d.started_at, d.start_energy_wh, None, None, d.below_since, d.below_energy_wh,
                            reading), []
        since = d.above_since or reading.at
        energy = d.above_energy_wh if d.above_since else reading.energy_wh
        if (reading.at - since).total_seconds() >= limits.start_after_s:
            return (Detector(True, since, energy, None, None, None, d.below_energy_wh, reading),
                    [DetectedJob("job_started", job_key(since), reading.at, since)])
        return Detector(False, d.started_at, d.start_energy_wh, since, energy, d.below_since, d.below_energy_wh,
                        reading), []
    if reading.power_w >= limits.idle_w:
        return Detector(True, d.started_at, d.start_energy_wh, d.above_since, d.above_energy_wh, None, None,
                        reading), []
    since = d.below_since or reading.at
    energy = d.below_energy_wh if d.below_since else reading.energy_wh
    if (reading.at - since).total_seconds() >= limits.stop_after_s:
        started = d.started_at or since  # a running detector always has it; a stored one may not
        return Detector(last=reading), [DetectedJob("job_finished", job_key(started), since, started,
                                                    _energy(d.start_energy_wh, energy))]
    return Detector(True, d.started_at, d.start_energy_wh, d.above_since, d.above_energy_wh, since, energy,
                    reading), []


def went_offline(detector: Detector) -> tuple[Detector, list[DetectedJob]]:
    """The plug disappeared: a running job ends, interrupted, at the last reading."""
    if not detector.running or detector.last is None or detector.started_at is None:
        return Detector(last=detector.last), []
    end = detector.below_since or detector.last.at
    energy_end = detector.below_energy_wh if detector.below_since else detector.last.energy_wh
    job = DetectedJob("job_interrupted", job_key(detector.started_at), end, detector.started_at,
                      _energy(detector.start_energy_wh, energy_end))
    return Detector(last=detector.last), [job]
