"""The "several machines" layout of docs/operations.md, for real: three ``fabbooking serve
--no-listener`` processes, each on its own port as on its own host, and one ``fabbooking
worker``, sharing one PostgreSQL database and one Mosquitto and nothing else.

- a booking made through any process is seen through every one;
- many makers racing for one slot through the three processes: one wins, the others are told
  the slot is taken, one row in the database;
- QoS 1 events from a gateway (each sent twice, as a gateway retrying does) are recorded once,
  by the worker's listener;
- the background jobs, which all four processes run, run once per tick between them, and a
  no-show is released once;
- each web process's /metrics counts the requests it answered, not the others';
- SIGTERM (what systemd sends) stops every process cleanly.

The cluster's job tick is 1 s. Without PostgreSQL or Mosquitto the test skips, or fails under
CI=true.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from piccolo.engine.postgres import PostgresEngine
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from fabbooking import database
from fabbooking.accounts.services import issue_token
from fabbooking.bookings.tables import Booking
from fabbooking.jobs.runner import JOBS
from fabbooking.training.tables import Training
from fabbooking.usage.contract import status_topic
from fabbooking.usage.tables import Telemetry
from tests.browser_support import wait_until_serving
from tests.conftest import (
    ROOT,
    booking_body,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    make_account,
    make_machine,
    make_site,
    missing_service,
    postgres_url,
    qualify,
    run_cli,
)
from tests.mqtt_support import Mosquitto
from tests.usage_helpers import Publisher, contract_event, topic, wire_gateway

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WEB_PROCESSES = 3
RACERS = (3, 4, 5)  # how many makers race through each web process: unequal, so each one's counts differ
JOBS_PER_GATEWAY = 4
TIMEOUT_S = 60


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path
    base: str = ""  # the web processes' address

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    url: str
    web: list[Process]
    worker: Process
    worker_metrics: Path
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    site: str = ""

    @property
    def processes(self) -> list[Process]:
        return [*self.web, self.worker]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def check_running(self) -> None:
        for process in self.processes:
            assert process.popen.poll() is None, \
                f"{process.name} stopped (exit {process.popen.returncode}):\n{process.text()}"


async def eventually(cluster: Cluster, check, what, timeout: float = TIMEOUT_S):
    """Poll ``check`` (sync or async) until it returns something truthy; fail after ``timeout``
    or as soon as a process of the cluster stops. ``what`` (a text, or a function giving one
    when it fails) says what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        cluster.check_running()
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert time.monotonic() < deadline, f"not within {timeout}s: {what() if callable(what) else what}"
        await asyncio.sleep(0.1)  # polling interval


# --- the network the cluster serves --------------------------------------------------------

async def build_network(url: str, site: str) -> tuple[dict[str, int], dict[str, str]]:
    """One site, a printer to book, a printer reporting through a gateway, a printer for a
    no-show; an admin and enough qualified makers for the race."""
    engine = PostgresEngine(config={"dsn": url})
    previous = database.DB
    database.use_engine(engine)
    try:
        ids: dict[str, int] = {"site": await make_site(site)}
        training = (await Training.insert(Training(slug="impression-3d", name="Impression 3D",
                                                   unlocks_kinds=["3d_printer"])).returning(Training.id))[0]["id"]
        for machine in ("printer", "reporting", "forgotten"):
            ids[machine] = await make_machine(ids["site"], machine, training_id=training)
        ids["gateway"] = await wire_gateway(ids["site"], f"gw-{site}", ids["reporting"])
        # the no-show sweep watches only machines that report their use
        await Telemetry.insert(Telemetry(machine=ids["forgotten"], format="contract", gateway=ids["gateway"]))
        tokens = {}
        ids["admin"] = await make_account("admin", "admin")
        tokens["admin"] = await issue_token(ids["admin"])
        for n in range(sum(RACERS)):
            ids[f"maker{n}"] = await make_account(f"maker{n}")
            await qualify(ids[f"maker{n}"], training)
            tokens[f"maker{n}"] = await issue_token(ids[f"maker{n}"])
        return ids, tokens
    finally:
        database.use_engine(previous)


async def add_no_show(url: str, machine_id: int, maker_id: int) -> int:
    """A booking that began 20 minutes ago on a machine that reports its use and showed none:
    past the site's 15 minutes of grace, the sweep must release it."""
    engine = PostgresEngine(config={"dsn": url})
    previous = database.DB
    database.use_engine(engine)
    try:
        start = datetime.now(UTC) - timedelta(minutes=20)
        return (await Booking.insert(Booking(machine=machine_id, maker=maker_id, booked_by=maker_id,
                                             start_at=start, end_at=start + timedelta(hours=1)))
                .returning(Booking.id))[0]["id"]
    finally:
        database.use_engine(previous)


# --- starting and stopping ----------------------------------------------------------------

def start(name: str, args: list[str], env: dict[str, str], folder: Path) -> Process:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([sys.executable, "-m", "fabbooking", *args], cwd=ROOT, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def stop(processes: list[Process]) -> dict[str, int | None]:
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
    codes = {}
    for process in processes:
        try:
            codes[process.name] = process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
            codes[process.name] = None  # did not stop
    return codes


@pytest.fixture
def broker(tmp_path):
    if shutil.which("mosquitto") is None:
        missing_service("Mosquitto is not installed (apt-get install mosquitto)")
    mosquitto = Mosquitto(tmp_path / "broker", free_port())
    mosquitto.folder.mkdir()
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
async def cluster(tmp_path, broker):
    name = create_postgres_database()  # skips (fails under CI) without PostgreSQL
    url = postgres_url(name)
    processes: list[Process] = []
    try:
        run_cli("migrate", url=url)
        site = f"cluster-{uuid.uuid4().hex[:8]}"
        ids, tokens = await build_network(url, site)
        worker_metrics = tmp_path / "worker-metrics"
        worker_metrics.mkdir()
        # what every host's env file says; the media folder is the one thing shared on disk
        env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_MQTT_URL": broker.url,
               "FABBOOKING_SECRET_KEY": "cluster-" + "k" * 40, "FABBOOKING_VAR_DIR": str(tmp_path),
               "FABBOOKING_JOB_TICK_SECONDS": "1"}
        for variable in ("FABBOOKING_BACKGROUND", "FABBOOKING_LISTENER", "PROMETHEUS_MULTIPROC_DIR"):
            env.pop(variable, None)
        ports = [free_port() for _ in range(WEB_PROCESSES)]
        for n, port in enumerate(ports):
            process = start(f"serve-{n}", ["serve", "--no-listener", "--port", str(port)], env, tmp_path)
            process.base = f"http://127.0.0.1:{port}"
            processes.append(process)
        # the worker has no /metrics: it writes its counts to files the test reads
        worker = start("worker", ["worker"], {**env, "PROMETHEUS_MULTIPROC_DIR": str(worker_metrics)}, tmp_path)
        processes.append(worker)
        cluster = Cluster(url, processes[:WEB_PROCESSES], worker, worker_metrics, ids, tokens, site)
        for process in cluster.web:
            wait_until_serving(process.base, process.popen, process.log)
        yield cluster
    finally:
        codes = stop(processes)
        drop_postgres_database(name)
    assert codes and all(code is not None for code in codes.values()), f"processes did not stop: {codes}"


# --- what the test reads ------------------------------------------------------------------

async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def worker_samples(cluster: Cluster) -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(cluster.worker_metrics))
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in registry.collect() for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def query(url: str, sql: str, *args):
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


# --- the test -----------------------------------------------------------------------------

async def test_three_web_processes_and_one_worker_share_one_database_and_one_broker(cluster, broker):
    clients = [httpx.AsyncClient(base_url=p.base, timeout=30) for p in cluster.web]
    try:
        before = [await scrape(http) for http in clients]
        await bookings_made_anywhere_are_seen_everywhere(cluster, clients)
        winner = await one_maker_wins_a_race_through_all_three(cluster, clients)
        await metrics_count_each_process_own_requests(cluster, clients, before, winner)
        await events_are_recorded_once_by_the_worker(cluster, clients, broker)
        await jobs_run_once_per_tick_across_the_four_processes(cluster, clients)
    finally:
        for http in clients:
            await http.aclose()
    codes = stop(cluster.processes)
    # uvicorn shuts down gracefully on SIGTERM, then ends by the signal again, as is the custom
    # (systemd counts it a clean stop); the worker finishes what it holds and exits with 0
    for process in cluster.web:
        assert codes[process.name] in (0, -signal.SIGTERM), process.text()
        assert "Application shutdown complete" in process.text(), process.text()
    assert codes["worker"] == 0, cluster.worker.text()
    for process in cluster.processes:
        assert "Traceback" not in process.text(), process.text()
    # the listener said goodbye to the broker (a DISCONNECT), rather than dropping the connection
    broker_log = broker.folder / "mosquitto.log"
    deadline = time.monotonic() + 10
    while "Client fabbooking-listener disconnected" not in broker_log.read_text():
        assert time.monotonic() < deadline, broker_log.read_text()
        await asyncio.sleep(0.1)  # polling interval


async def bookings_made_anywhere_are_seen_everywhere(cluster: Cluster, clients) -> None:
    made = []
    for n, http in enumerate(clients):
        body = booking_body(cluster.ids["printer"], days_ahead=1 + n, start="09:00")
        response = await http.post("/api/v1/bookings", json=body, headers=cluster.auth(f"maker{n}"))
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    for http in clients:
        listed = await http.get("/api/v1/bookings", params={"machine": cluster.ids["printer"]},
                                headers=cluster.auth("admin"))
        assert listed.status_code == 200, listed.text
        assert sorted(b["id"] for b in listed.json()) == sorted(made), f"through {http.base_url}"
        for n, booking_id in enumerate(made):  # each maker sees their own through every process
            mine = await http.get(f"/api/v1/bookings/{booking_id}", headers=cluster.auth(f"maker{n}"))
            assert mine.status_code == 200 and mine.json()["maker_id"] == cluster.ids[f"maker{n}"], mine.text


async def one_maker_wins_a_race_through_all_three(cluster: Cluster, clients) -> int:
    """Every racer is qualified and free: only the overlap can refuse them. Returns the index
    of the web process that answered the winner."""
    body = booking_body(cluster.ids["printer"], days_ahead=5, start="14:00")
    through = [process for process, count in enumerate(RACERS) for _ in range(count)]
    racers = [(process, f"maker{n}") for n, process in enumerate(through)]
    answers = await asyncio.gather(*[
        clients[process].post("/api/v1/bookings", json=body, headers=cluster.auth(who)) for process, who in racers])
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: len(racers) - 1}, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"overlap"}
    rows = await query(cluster.url, "SELECT count(*) AS n FROM booking WHERE machine = $1 AND start_at < $3 "
                                    "AND end_at > $2", cluster.ids["printer"],
                       datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"]))
    assert rows[0]["n"] == 1, "one booking of that slot in the database"
    return next(process for (process, _), a in zip(racers, answers, strict=True) if a.status_code == 201)


async def metrics_count_each_process_own_requests(cluster: Cluster, clients, before, winner: int) -> None:
    """Each process answered one booking, its share of the race, and a few /healthz (as many
    as its number, plus one): its own /metrics counts exactly those, not the others'."""
    for n, http in enumerate(clients):
        for _ in range(n + 1):
            assert (await http.get("/healthz")).status_code == 200
    for n, http in enumerate(clients):
        after = await scrape(http)

        def moved(name: str, after=after, n=n, **labels) -> float:
            return value(after, name, **labels) - value(before[n], name, **labels)

        assert moved("fabbooking_http_requests_total", method="GET", route="/healthz", status="200") == n + 1
        assert moved("fabbooking_http_requests_total", method="POST", route="/api/v1/bookings",
                     status="201") == 1 + (n == winner)
        assert moved("fabbooking_http_requests_total", method="POST", route="/api/v1/bookings",
                     status="409") == RACERS[n] - (n == winner)
        assert moved("fabbooking_bookings_created_total", purpose="maker") == 1 + (n == winner)
        assert moved("fabbooking_bookings_refused_total", code="overlap") == RACERS[n] - (n == winner)


async def events_are_recorded_once_by_the_worker(cluster: Cluster, clients, broker) -> None:
    # the gateway's retained status reaches the listener once it has subscribed to the site
    publisher = Publisher(broker.port)
    try:
        publisher.send(status_topic(cluster.site, f"gw-{cluster.site}"), b'{"state":"ready"}', retain=True)

        async def gateway_ready() -> bool:
            rows = await query(cluster.url, "SELECT state FROM gateway WHERE id = $1", cluster.ids["gateway"])
            return rows[0]["state"] == "ready"

        await eventually(cluster, gateway_ready, "the worker's listener records the gateway's status")
        where = topic(cluster.site, f"gw-{cluster.site}", "reporting")
        began = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        for job in range(JOBS_PER_GATEWAY):
            at = began + timedelta(minutes=5 * job)
            for event in (contract_event("job_started", f"job-{job}", at),
                          contract_event("job_finished", f"job-{job}", at + timedelta(minutes=2), duration_s=120)):
                publisher.send(where, event)
                publisher.send(where, event)  # the gateway did not see the PUBACK and sends it again
    finally:
        publisher.close()

    async def sessions():
        rows = await query(cluster.url, "SELECT job_key, outcome FROM usage_session WHERE machine = $1",
                           cluster.ids["reporting"])
        return rows if sum(r["outcome"] == "completed" for r in rows) == JOBS_PER_GATEWAY else None

    rows = await eventually(cluster, sessions, "every job recorded as completed")
    assert sorted(r["job_key"] for r in rows) == [f"job-{job}" for job in range(JOBS_PER_GATEWAY)]
    received = await query(cluster.url, "SELECT count(*) AS n FROM received_message")
    assert received[0]["n"] == 2 * JOBS_PER_GATEWAY, "each message's key kept once"
    dead = await query(cluster.url, "SELECT count(*) AS n FROM dead_letter")
    assert dead[0]["n"] == 0
    # only the worker listens: the web processes recorded nothing
    await eventually(cluster, lambda: value(worker_samples(cluster), "fabbooking_mqtt_messages_recorded_total")
                     == 1 + 4 * JOBS_PER_GATEWAY, "the worker counts the status and every copy it received")
    for http in clients:
        assert value(await scrape(http), "fabbooking_mqtt_messages_recorded_total") == 0


async def jobs_run_once_per_tick_across_the_four_processes(cluster: Cluster, clients) -> None:
    # every process says from which tick it runs the jobs; count from the first all four share
    def first_ticks() -> list[int] | None:
        found = [re.search(r"background jobs every 1 s from tick (\d+)", p.text()) for p in cluster.processes]
        return [int(m.group(1)) for m in found] if all(found) else None

    shared = max(await eventually(cluster, first_ticks, "every process runs the background jobs")) + 1
    # a no-show, once all four run the sweep: released once, by one of them
    no_show = await add_no_show(cluster.url, cluster.ids["forgotten"], cluster.ids["maker0"])
    # the jobs claimed once per tick (the mail drain runs in every process, sharing its work
    # out by leases: tests/test_notifications.py proves each message goes once)
    names = [job.name for job in JOBS if not job.each_process]

    async def runs() -> list:
        return await query(cluster.url, "SELECT job, tick FROM job_run WHERE tick >= $1", shared)

    # every job runs at every tick: four ticks in a row, each job run at each (a tick that no
    # process reached in time, the machine having stalled for longer than a tick, is skipped
    # by design, never run late or twice: then a later four do)
    ticks = 4

    async def consecutive_ticks():
        rows = await runs()
        per_tick = Counter(row["tick"] for row in rows)
        complete = sorted(tick for tick, jobs in per_tick.items() if jobs == len(names))
        return any(complete[i + ticks - 1] - complete[i] == ticks - 1 for i in range(len(complete) - ticks + 1))

    await eventually(cluster, consecutive_ticks, f"{ticks} ticks in a row, from tick {shared}, each job run at each")

    # every run is counted by the one process that ran it: the four counts add up to the rows
    last: list = []

    async def counts_add_up():
        total = await query(cluster.url, "SELECT job, count(*) AS n FROM job_run GROUP BY job ORDER BY job")
        samples = [await scrape(http) for http in clients] + [worker_samples(cluster)]
        again = await query(cluster.url, "SELECT job, count(*) AS n FROM job_run GROUP BY job ORDER BY job")
        if total != again:
            return None  # a tick ran meanwhile: read again
        by_process = {job: [value(s, "fabbooking_background_job_runs_total", job=job) for s in samples]
                      for job in names}
        last[:] = [dict(total), by_process]
        return by_process if all(sum(by_process[r["job"]]) == r["n"] for r in total) else None

    await eventually(cluster, counts_add_up, lambda: "the runs each process counted (serve-0, -1, -2, worker) add "
                     f"up to the runs in job_run: rows {last[0] if last else '?'}, counted {last[1] if last else '?'}")

    async def released():
        answer = await clients[0].get(f"/api/v1/bookings/{no_show}", headers=cluster.auth("admin"))
        return answer.json()["status"] == "no_show"

    await eventually(cluster, released, "the no-show is released")
    lines = [line for p in cluster.processes for line in p.text().splitlines() if "no-shows released" in line]
    assert len(lines) == 1 and f"[{no_show}]" in lines[0], lines
