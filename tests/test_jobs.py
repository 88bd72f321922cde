"""Background jobs run once per tick across every process sharing the database, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fabbooking.jobs.runner import JOBS, Job, run_if_first, tick_of
from fabbooking.jobs.tables import JobRun
from fabbooking.usage.tables import ReceivedMessage
from tests.conftest import ROOT

pytestmark = pytest.mark.anyio

# Each process runs the real runner with one job that writes "tick pid" to a shared file.
COUNTING_PROCESS = """
import asyncio, os, sys
from datetime import UTC, datetime
from fabbooking.jobs.runner import Job, run_jobs_forever, tick_of

EVERY = 1.0

async def count(now):
    with open(sys.argv[1], "a") as out:
        out.write(f"{tick_of(now, EVERY)} {os.getpid()}\\n")

print("first tick", tick_of(datetime.now(UTC), EVERY) + 1, flush=True)
asyncio.run(run_jobs_forever([Job("count", count)], EVERY))
"""


def _first_tick(output: Path) -> int | None:
    for line in output.read_text().splitlines():
        if line.startswith("first tick "):
            return int(line.split()[-1])
    return None


async def _wait_for(condition, processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            assert process.poll() is None, f"a job process stopped (exit {process.returncode})"
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)  # polling interval


async def test_three_processes_run_each_tick_once(db, tmp_path):
    runs = tmp_path / "runs.txt"
    runs.touch()
    env = {**os.environ, "FABBOOKING_DATABASE_URL": db.url}
    outputs = [tmp_path / f"process-{n}.txt" for n in range(3)]
    processes = []
    for output in outputs:
        with output.open("wb") as out:
            processes.append(subprocess.Popen([sys.executable, "-c", COUNTING_PROCESS, str(runs)],
                                              cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    try:
        await _wait_for(lambda: all(_first_tick(o) is not None for o in outputs), processes)
        # count only the ticks that all three processes were there for
        shared = max(_first_tick(o) or 0 for o in outputs)

        def ticks_run() -> Counter:
            lines = [line.split() for line in runs.read_text().splitlines()]
            return Counter(int(tick) for tick, _ in lines if int(tick) >= shared)

        await _wait_for(lambda: len(ticks_run()) >= 4, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    counted = ticks_run()
    assert set(counted.values()) == {1}, f"runs per tick: {dict(counted)}"
    for output in outputs:
        assert "Traceback" not in output.read_text(), output.read_text()


async def test_a_tick_taken_is_skipped_and_the_next_one_runs(db):
    ran = []

    async def note(now: datetime) -> None:
        ran.append(now)

    job = Job("note", note)
    now = datetime.now(UTC)
    assert await run_if_first(job, 100, now)
    assert not await run_if_first(job, 100, now)
    assert await run_if_first(job, 101, now)
    assert len(ran) == 2


async def test_a_failing_job_leaves_its_tick_to_be_run_again(db):
    async def fail(now: datetime) -> None:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        await run_if_first(Job("flaky", fail), 7, datetime.now(UTC))
    assert not await JobRun.exists().where(JobRun.job == "flaky")
    assert await run_if_first(Job("flaky", lambda now: asyncio.sleep(0)), 7, datetime.now(UTC))


async def test_the_real_jobs_run_through_the_runner(db):
    now = datetime.now(UTC)
    await ReceivedMessage.insert(ReceivedMessage(key="dev:old", received_at=now - timedelta(days=30)))
    for job in JOBS:
        assert await run_if_first(job, tick_of(now, 60), now)
    assert not await ReceivedMessage.exists().where(ReceivedMessage.key == "dev:old")


def test_a_wrong_tick_setting_stops_the_worker_with_the_fix(tmp_path):
    from tests.conftest import run_cli

    result = run_cli("worker", url=f"sqlite:///{tmp_path / 'x.sqlite3'}", check=False,
                     extra_env={"FABBOOKING_JOB_TICK_SECONDS": "soon"})
    assert result.returncode == 2
    assert "FABBOOKING_JOB_TICK_SECONDS='soon'" in result.stderr
    assert "Traceback" not in result.stderr


async def test_runs_and_failures_are_counted_for_metrics(db):
    from prometheus_client import REGISTRY

    from fabbooking.jobs.runner import run_tick

    def value(name: str, job: str) -> float:
        return REGISTRY.get_sample_value(name, {"job": job}) or 0.0

    async def fine(now: datetime) -> None:
        return None

    async def broken(now: datetime) -> None:
        raise RuntimeError("broken")

    runs, failures = value("fabbooking_background_job_runs_total", "fine"), value(
        "fabbooking_background_job_failures_total", "broken")
    now = datetime.now(UTC)
    await run_tick([Job("fine", fine), Job("broken", broken)], now, 60)
    await run_tick([Job("fine", fine)], now, 60)  # the same tick again: already taken, not counted
    assert value("fabbooking_background_job_runs_total", "fine") == runs + 1
    assert value("fabbooking_background_job_failures_total", "broken") == failures + 1


async def test_a_job_meeting_a_database_outage_logs_one_line_not_a_traceback(db, caplog):
    """A tick that falls in an outage: the job waits for the next tick; the log says so in
    one line and names the outage once, as the requests do (CI caught a traceback here)."""
    import logging
    import sqlite3

    from fabbooking.jobs.runner import run_tick
    from fabbooking.outage import OUTAGE

    async def away(now: datetime) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    caplog.set_level(logging.INFO)
    try:
        await run_tick([Job("away", away, each_process=True)], datetime.now(UTC), 60)
        await run_tick([Job("away", away, each_process=True)], datetime.now(UTC), 60)
        assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
        assert caplog.text.count("the database is unavailable") == 1
        assert caplog.text.count("background job away waits for the database") == 2
    finally:
        OUTAGE.answered()
