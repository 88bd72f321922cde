"""Usage sessions: one row per job, folded from every report about it, linked to the
booking it falls in. Pure: the recording reads the rows and the bookings of a whole batch,
folds its reports here in arrival order, and writes each session once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking.usage.tables import Outcome

ENDINGS = {
    "job_finished": Outcome.completed.value,
    "job_failed": Outcome.failed.value,
    "job_cancelled": Outcome.cancelled.value,
    "job_interrupted": Outcome.interrupted.value,
}
EARLY_START = timedelta(minutes=15)  # a job may start a little before its booking
LATEST = datetime.max.replace(tzinfo=UTC)
# every column of usage_session but its id, as the recording reads and writes them
COLUMNS = ("key", "machine", "job_key", "started_at", "ended_at", "duration_s", "outcome", "energy_wh",
           "material_kind", "material_grams", "material_length_mm", "file_name", "booking", "walk_in",
           "overrun", "replayed")


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


def session_key(machine_id: int, job_key: str) -> str:
    return f"{machine_id}:{job_key}"


def fold_job(session: dict | None, report: JobReport) -> dict:
    """The session once ``report`` is taken into account (a new dict; ``session`` is None for
    a job not seen yet). Reports may come twice or out of order: a start fills in what is
    missing, the first ending decides the outcome."""
    ending = ENDINGS.get(report.event)
    started = report.started_at or (report.at if report.event == "job_started" else None)
    if ending and started is None and report.duration_s is not None:
        try:
            started = report.at - timedelta(seconds=report.duration_s)
        except OverflowError:  # the contract allows up to 1e12 s: before year 1, no start then
            started = None
    if session is None:
        row = {"key": session_key(report.machine_id, report.key), "machine": report.machine_id,
               "job_key": report.key, "started_at": started, "ended_at": None, "duration_s": None,
               "outcome": Outcome.running.value, "energy_wh": None, "material_kind": "",
               "material_grams": None, "material_length_mm": None, "file_name": "", "booking": None,
               "walk_in": False, "overrun": False, "replayed": report.replay}
    else:
        row = dict(session)
        if row["started_at"] is None and started is not None:
            row["started_at"] = started
    if ending and (session is None or session["outcome"] == Outcome.running.value):
        begin = row["started_at"]
        row.update(outcome=ending, ended_at=report.at,
                   duration_s=report.duration_s if report.duration_s is not None
                   else ((report.at - begin).total_seconds() if begin else None))
    if report.replay:
        row["replayed"] = True  # some of what we know of this job came late, from a gateway's queue
    for column in ("energy_wh", "material_grams", "material_length_mm"):
        if getattr(report, column) is not None:
            row[column] = getattr(report, column)
    if report.material_kind:
        row["material_kind"] = _storable(report.material_kind[:64])
    if report.file:
        row["file_name"] = _storable(report.file[:255])
    return row


def _storable(text: str) -> str:
    """As a database takes it: PostgreSQL refuses NUL ("\\u0000" in JSON), and a lone
    surrogate ("\\ud800") cannot be encoded for either database."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def booking_window(started_at: datetime) -> tuple[datetime, datetime]:
    """Bookings that may hold a job started at ``started_at`` end after the first moment and
    start before the second."""
    try:
        return started_at, started_at + EARLY_START
    except OverflowError:  # a job "started" in year 9999
        return started_at, LATEST


def link_booking(session: dict, bookings: list[dict]) -> dict:
    """The session linked to the machine's confirmed (or no-show) booking whose window
    contains its start, the earliest such; a walk-in otherwise; an overrun when it ends after
    its booking. ``bookings``: the candidate bookings (id, machine, start_at, end_at), by
    start. A session without a start is left as it is."""
    if session["started_at"] is None:
        return session
    after, before = booking_window(session["started_at"])
    booking = next((b for b in bookings if b["machine"] == session["machine"]
                    and b["start_at"] <= before and b["end_at"] > after), None)
    overrun = bool(booking and session["ended_at"] and session["ended_at"] > booking["end_at"])
    return {**session, "booking": booking["id"] if booking else None, "walk_in": booking is None,
            "overrun": overrun}
