"""Usage sessions: one row per job, upserted by every report about it, linked to the
booking it falls in. Called inside the recording transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fabbooking.bookings.tables import Booking
from fabbooking.usage.tables import Outcome, UsageSession

ENDINGS = {
    "job_finished": Outcome.completed.value,
    "job_failed": Outcome.failed.value,
    "job_cancelled": Outcome.cancelled.value,
    "job_interrupted": Outcome.interrupted.value,
}
EARLY_START = timedelta(minutes=15)  # a job may start a little before its booking


@dataclass(frozen=True)
class JobReport:
    machine_id: int
    event: str  # job_started or one of ENDINGS
    key: str
    at: datetime
    started_at: datetime | None = None
    duration_s: float | None = None
    file: str | None = None
    energy_wh: float | None = None
    material_kind: str | None = None
    material_grams: float | None = None
    material_length_mm: float | None = None
    replay: bool = False


async def apply_job(report: JobReport) -> dict:
    """Create or complete the job's session. Reports may come twice or out of order: a
    start fills in what is missing, the first ending decides the outcome."""
    row_key = f"{report.machine_id}:{report.key}"
    existing = await UsageSession.select().where(UsageSession.key == row_key).first()
    ending = ENDINGS.get(report.event)
    started = report.started_at or (report.at if report.event == "job_started" else None)
    if ending and started is None and report.duration_s is not None:
        try:
            started = report.at - timedelta(seconds=report.duration_s)
        except OverflowError:  # the contract allows up to 1e12 s: before year 1, no start then
            started = None
    values: dict = {}
    if existing is None:
        values = {"key": row_key, "machine": report.machine_id, "job_key": report.key,
                  "started_at": started, "outcome": Outcome.running.value, "replayed": report.replay}
    elif existing["started_at"] is None and started is not None:
        values["started_at"] = started
    if ending and (existing is None or existing["outcome"] == Outcome.running.value):
        begin = values.get("started_at") or (existing or {}).get("started_at")
        values.update(outcome=ending, ended_at=report.at,
                      duration_s=report.duration_s if report.duration_s is not None
                      else ((report.at - begin).total_seconds() if begin else None))
    if report.replay and existing is not None and not existing["replayed"]:
        values["replayed"] = True  # some of what we know of this job came late, from a gateway's queue
    for column in ("energy_wh", "material_grams", "material_length_mm"):
        if getattr(report, column) is not None:
            values[column] = getattr(report, column)
    if report.material_kind:
        values["material_kind"] = _storable(report.material_kind[:64])
    if report.file:
        values["file_name"] = _storable(report.file[:255])
    if existing is None:
        await UsageSession.insert(UsageSession(**values))
    elif values:
        await UsageSession.update(values).where(UsageSession.key == row_key)
    return await _link_booking(row_key)


def _storable(text: str) -> str:
    """As a database takes it: PostgreSQL refuses NUL ("\\u0000" in JSON), and a lone
    surrogate ("\\ud800") cannot be encoded for either database."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


async def _link_booking(row_key: str) -> dict:
    session = await UsageSession.select().where(UsageSession.key == row_key).first()
    if session["started_at"] is None:
        return session
    booking = await Booking.select(Booking.id, Booking.end_at).where(
        (Booking.machine == session["machine"])
        & (Booking.status.is_in(["confirmed", "no_show"]))
        & (Booking.start_at <= session["started_at"] + EARLY_START)
        & (Booking.end_at > session["started_at"])
    ).order_by(Booking.start_at).first()
    overrun = bool(booking and session["ended_at"] and session["ended_at"] > booking["end_at"])
    values = {"booking": booking["id"] if booking else None, "walk_in": booking is None, "overrun": overrun}
    if any(session[k] != v for k, v in values.items()):
        await UsageSession.update(values).where(UsageSession.key == row_key)
        session.update(values)
    return session
