"""Finding jobs in a metered machine's power draw, with hysteresis. Pure: no I/O.

A laser cutter behind a metering plug draws a little all the time (chiller, fans) and a lot
while it cuts. A job starts when power stays at or above ``start_w`` for ``start_after_s``
seconds, and ends when it stays below ``idle_w`` for ``stop_after_s`` seconds; the job's
end is the moment power first fell. Energy is the meter's counter at the end minus at the
start. A plug that goes offline during a job ends it as ``interrupted`` at its last reading.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    """Take one reading; return the new state and the jobs it starts or ends."""
    if detector.last is not None and reading.at <= detector.last.at:
        return detector, []  # late or repeated reading: power tells nothing new
    events: list[DetectedJob] = []
    state = replace(detector, last=reading)
    if not state.running:
        if reading.power_w >= limits.start_w:
            since = state.above_since or reading.at
            energy = state.above_energy_wh if state.above_since else reading.energy_wh
            state = replace(state, above_since=since, above_energy_wh=energy)
            if (reading.at - since).total_seconds() >= limits.start_after_s:
                state = replace(state, running=True, started_at=since, start_energy_wh=energy,
                                above_since=None, above_energy_wh=None, below_since=None)
                events.append(DetectedJob("job_started", job_key(since), reading.at, since))
        else:
            state = replace(state, above_since=None, above_energy_wh=None)
        return state, events
    if reading.power_w < limits.idle_w:
        since = state.below_since or reading.at
        energy = state.below_energy_wh if state.below_since else reading.energy_wh
        state = replace(state, below_since=since, below_energy_wh=energy)
        if (reading.at - since).total_seconds() >= limits.stop_after_s:
            started = state.started_at or since  # a running detector always has it; a stored one may not
            events.append(DetectedJob("job_finished", job_key(started), since, started,
                                      _energy(state.start_energy_wh, energy)))
            state = Detector(last=reading)
    else:
        state = replace(state, below_since=None, below_energy_wh=None)
    return state, events


def went_offline(detector: Detector) -> tuple[Detector, list[DetectedJob]]:
    """The plug disappeared: a running job ends, interrupted, at the last reading."""
    if not detector.running or detector.last is None or detector.started_at is None:
        return Detector(last=detector.last), []
    end = detector.below_since or detector.last.at
    energy_end = detector.below_energy_wh if detector.below_since else detector.last.energy_wh
    job = DetectedJob("job_interrupted", job_key(detector.started_at), end, detector.started_at,
                      _energy(detector.start_energy_wh, energy_end))
    return Detector(last=detector.last), [job]
