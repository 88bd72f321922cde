"""Running the background jobs exactly once per tick, however many ``serve`` and ``worker``
processes share the database.

Time is cut into ticks of FABBOOKING_JOB_TICK_SECONDS counted from the epoch, so every
process agrees on the current tick. For each job and tick, a process opens a write
transaction and claims the tick by inserting a ``job_run`` row, unique on (job, tick); it
runs the job inside that transaction, so the claim and the job's writes commit together
(a failing job leaves the tick unclaimed). On PostgreSQL a transaction-scoped advisory lock
per job and tick is taken first: the other processes skip at once instead of queueing on
the unique index. On SQLite the transaction takes the database's write lock at BEGIN, so
the others wait for the commit, then find the tick taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking import database
from fabbooking.jobs.tables import JobRun
from fabbooking.observability import metrics
from fabbooking.outage import OUTAGE, is_database_unavailable
from fabbooking.settings import job_tick_seconds

log = logging.getLogger("fabbooking.jobs")
RUNS_KEPT = timedelta(days=2)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], Awaitable[object]]
    # True: every process runs it each tick, outside any transaction (it shares its work out
    # itself, like the mail drain's leases, and may be slow without holding a lock)
    each_process: bool = False


async def sweep_no_shows(now: datetime) -> None:
    from fabbooking.usage.no_show import release_no_shows

    released = await release_no_shows(now)
    if released:
        log.info("no-shows released: %s", released)


async def forget_message_keys(now: datetime) -> None:
    from fabbooking.usage.recording import forget_old_message_keys

    await forget_old_message_keys(now)


async def forget_idempotency_answers(now: datetime) -> None:
    from fabbooking.idempotency.answers import forget_old_answers

    await forget_old_answers(now)


async def send_mail(now: datetime) -> None:
    from fabbooking.notifications.sending import drain

    await drain(now)


async def remind_tomorrow(now: datetime) -> None:
    from fabbooking.notifications.events import enqueue_reminders

    written = await enqueue_reminders(now)
    if written:
        log.info("booking reminders written: %d", written)


async def forget_sent_mail(now: datetime) -> None:
    from fabbooking.notifications.sending import forget_old_messages

    await forget_old_messages(now)


JOBS: tuple[Job, ...] = (
    Job("no-show-sweep", sweep_no_shows),
    Job("forget-message-keys", forget_message_keys),
    Job("forget-idempotency-answers", forget_idempotency_answers),
    Job("booking-reminders", remind_tomorrow),
    Job("send-mail", send_mail, each_process=True),
    Job("forget-sent-mail", forget_sent_mail),
)


def tick_of(moment: datetime, every: float) -> int:
    return int(moment.timestamp() // every)


def _lock_key(name: str) -> int:
    """A job's name as a signed 32-bit key for pg_try_advisory_xact_lock(int, int)."""
    return zlib.crc32(name.encode()) - 2**31


async def run_if_first(job: Job, tick: int, now: datetime) -> bool:
    """Run ``job`` for ``tick`` unless another process has (or is doing it); True if this
    call ran it. A failing job raises, and its tick stays unclaimed."""
    async with database.write_transaction():
        if database.is_postgres():
            rows = await JobRun.raw("SELECT pg_try_advisory_xact_lock({}, {}) AS got",
                                    _lock_key(job.name), tick % 2**31)
            if not rows[0]["got"]:
                return False
        claimed = await JobRun.insert(JobRun(job=job.name, tick=tick, ran_at=now)).on_conflict(
            target=(JobRun.job, JobRun.tick), action="DO NOTHING").returning(JobRun.id)
        if not claimed:
            return False
        await job.run(now)
        await JobRun.delete().where((JobRun.job == job.name) & (JobRun.ran_at < now - RUNS_KEPT))
    return True


async def run_tick(jobs: Sequence[Job], now: datetime, every: float) -> None:
    """Each job of the tick ``now`` falls in, unless another process ran it already."""
    tick = tick_of(now, every)
    for job in jobs:
        try:
            if job.each_process:
                await job.run(now)
                metrics.job_runs.labels(job.name).inc()
            elif await run_if_first(job, tick, now):
                metrics.job_runs.labels(job.name).inc()
                log.debug("job %s ran for tick %d", job.name, tick)
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others; next tick retries
            metrics.job_failures.labels(job.name).inc()
            if is_database_unavailable(exc):  # an outage is logged once, as the requests' are
                OUTAGE.noticed(exc)
                log.warning("background job %s waits for the database (tick %d); the next tick tries again",
                            job.name, tick)
            else:
                log.exception("background job %s failed (tick %d)", job.name, tick)


async def run_jobs_forever(jobs: Sequence[Job] = JOBS, every: float | None = None) -> None:
    """Every tick, run each job unless another process already has; until cancelled."""
    every = every or job_tick_seconds()
    log.info("background jobs every %g s from tick %d: %s", every,
             tick_of(datetime.now(UTC), every), ", ".join(job.name for job in jobs))
    while True:
        now = datetime.now(UTC)
        tick = tick_of(now, every)
        await run_tick(jobs, now, every)
        # sleep to the next tick's start, so that every process wakes for the same tick
        await asyncio.sleep(max(0.0, (tick + 1) * every - time.time()))
