"""MQTT usage throughput: events persisted per second by ``fabbooking listen``, beside what a
do-nothing paho subscriber receives from the same broker.

    .venv/bin/python bench/mqtt_throughput.py                      # 20,000 events, SQLite + PostgreSQL
    .venv/bin/python bench/mqtt_throughput.py --events 5000 --databases sqlite
    .venv/bin/python bench/mqtt_throughput.py --listeners 2        # also two listeners sharing the events

Every measurement gets its own private Mosquitto (persistence on, max_queued_messages 0, as
in the tests) on a free port. For each database (a temporary SQLite file; a temporary
PostgreSQL database when FABBOOKING_TEST_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres, is reachable) the script migrates it, wires
4 machines to 2 gateways, starts ``python -m fabbooking listen`` as a subprocess, waits until
it is subscribed, then publishes N QoS 1 contract events (job_started/job_finished pairs, each
a distinct msg_id) as fast as the broker takes them. "events/s" is N divided by the time
from the first publish to the last ReceivedMessage row committed (every event is checked to
be there, and the N/2 sessions completed, no dead letter); "publish/s" is how fast the
broker acknowledged the publisher. The baseline is a paho MQTT v5 client with the same
shared subscription and QoS 1 that only counts what it receives (paho acknowledges at once).

It is a script, not a test: run it when the listener or the recording changes, and update
the table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = Path(tempfile.mkdtemp(prefix="fabbooking-bench-mqtt-"))
# fabbooking.database builds an engine from this at import time: point it somewhere harmless.
os.environ["FABBOOKING_DATABASE_URL"] = f"sqlite:///{_SCRATCH}/import.sqlite3"
os.environ.setdefault("FABBOOKING_VAR_DIR", str(_SCRATCH / "var"))
os.environ.pop("FABBOOKING_MQTT_URL", None)

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

from fabbooking import database  # noqa: E402
from fabbooking.settings import parse_database_url  # noqa: E402
from fabbooking.usage.contract import Job, UsageEvent, build_event, event_topic  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("FABBOOKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SITE = "bench-site"
MACHINES = [("gw-a", "printer-1"), ("gw-a", "printer-2"), ("gw-b", "laser-1"), ("gw-b", "laser-2")]
EVENTS_FILTER = "fablab/v1/+/+/+/event"
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {folder}/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
log_dest file {folder}/mosquitto.log
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """A private Mosquitto in a temporary folder, like the tests' fixture."""

    def __init__(self) -> None:
        # Started by root, Mosquitto runs as the 'mosquitto' user: its folder must be writable
        # by that user (and outside our private 0700 scratch folder), or it persists nothing.
        self.folder = Path(tempfile.mkdtemp(prefix="fabbooking-bench-mosquitto-"))
        self.folder.chmod(0o777)
        self.port = free_port()
        conf = self.folder / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF.format(port=self.port, folder=self.folder))
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not _port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"mosquitto did not start (see {self.folder}/mosquitto.log)")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def flood(count: int, run: str) -> list[tuple[str, bytes]]:
    """``count`` events: job_started/job_finished pairs spread over the machines, distinct msg_ids."""
    base = datetime.now(UTC) - timedelta(days=1)
    messages = []
    for n in range(count):
        gateway, machine = MACHINES[(n // 2) % len(MACHINES)]
        job = n // 2
        started = base + timedelta(seconds=job)
        if n % 2 == 0:
            event = UsageEvent(f"{run}-{n}", started, "job_started", Job(f"job-{job}", file=f"part-{job}.gcode"))
        else:
            event = UsageEvent(f"{run}-{n}", started + timedelta(seconds=30), "job_finished",
                               Job(f"job-{job}", duration_s=30.0))
        messages.append((event_topic(SITE, gateway, machine), build_event(event)))
    return messages


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> tuple[float, float]:
    """Publish QoS 1 as fast as the broker takes them; (start, end) on the wall clock."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.time()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=120)
    end = time.time()
    client.loop_stop()
    client.disconnect()
    return start, end


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    publish_rate: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def baseline(count: int) -> Result:
    """A paho subscriber that does nothing but count (QoS 1, acknowledged by paho at once)."""
    broker = Broker()
    received = 0
    last = [0.0]
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client, userdata, message) -> None:
        nonlocal received
        received += 1
        last[0] = time.time()
        if received >= count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-null", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_connect = lambda c, *args: c.subscribe(f"$share/bench/{EVENTS_FILTER}", options=SubscribeOptions(qos=1))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        if not subscribed.wait(20):
            raise SystemExit("the do-nothing subscriber could not subscribe")
        start, end = publish_all(broker.port, flood(count, "null"))
        if not done.wait(300):
            raise SystemExit(f"the do-nothing subscriber received only {received} of {count}")
        return Result("do-nothing paho subscriber", count, last[0] - start, count / (end - start))
    finally:
        client.loop_stop()
        client.disconnect()
        broker.stop()


async def _seed() -> None:
    from fabbooking.network.tables import Machine, Site
    from fabbooking.usage.tables import Gateway, Telemetry

    site = (await Site.insert(Site(slug=SITE, name="Bench")).returning(Site.id))[0]["id"]
    gateways = {}
    for gateway, machine in MACHINES:
        if gateway not in gateways:
            gateways[gateway] = (await Gateway.insert(Gateway(ident=gateway, site=site, name=gateway))
                                 .returning(Gateway.id))[0]["id"]
        machine_id = (await Machine.insert(Machine(site=site, slug=machine, name=machine))
                      .returning(Machine.id))[0]["id"]
        await Telemetry.insert(Telemetry(machine=machine_id, format="contract", gateway=gateways[gateway]))


async def _count(prefix: str) -> int:
    from fabbooking.usage.tables import ReceivedMessage

    return await ReceivedMessage.count().where(ReceivedMessage.key.like(f"gw:%:{prefix}-%"))


async def _last_received(prefix: str) -> datetime:
    from fabbooking.usage.tables import ReceivedMessage

    row = await ReceivedMessage.select(ReceivedMessage.received_at).where(
        ReceivedMessage.key.like(f"gw:%:{prefix}-%")).order_by(ReceivedMessage.received_at, ascending=False).first()
    return row["received_at"]


async def _sessions() -> dict[str, int]:
    from fabbooking.usage.tables import DeadLetter, UsageSession

    rows = await UsageSession.select(UsageSession.outcome)
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    dead = await DeadLetter.count()
    if dead:
        outcomes["dead letters"] = dead
    return outcomes


def _use(url: str):
    engine = database.build_engine(parse_database_url(url))
    database.use_engine(engine)
    return engine


def listener_run(kind: str, count: int, listeners: int = 1) -> Result:
    """``fabbooking listen`` (``listeners`` of them, one share group) on a fresh database of
    ``kind``: events persisted per second."""
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite:///{_SCRATCH}/bench-{uuid.uuid4().hex[:6]}.sqlite3"
    else:
        pg_name = f"fabbooking_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{pg_name}"'))
        url = f"{POSTGRES_ADMIN_URL.rpartition('/')[0]}/{pg_name}"
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "fabbooking", "migrate"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    _use(url)
    asyncio.run(_seed())
    broker = Broker()
    log = open(_SCRATCH / f"listen-{kind}.log", "w")  # noqa: SIM115 - closed below
    # several listeners share the events only in a share group (off by default, see docs/mqtt.md)
    sharing = ["--share-group", "bench"] if listeners > 1 else []
    processes = [subprocess.Popen([sys.executable, "-m", "fabbooking", "listen", "--client-id", f"bench-{kind}-{n}",
                                   *sharing],
                                  cwd=ROOT, env={**env, "FABBOOKING_MQTT_URL": broker.url},
                                  stdout=log, stderr=subprocess.STDOUT) for n in range(listeners)]
    try:
        _wait_subscribed(broker.port, processes)
        messages = flood(count, "ev")
        start, end = publish_all(broker.port, messages)
        deadline = time.monotonic() + max(300, count / 20)
        while (recorded := asyncio.run(_count("ev"))) < count:
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise SystemExit(f"{kind}: only {recorded} of {count} recorded (log: {log.name})")
            time.sleep(0.2)
        last = asyncio.run(_last_received("ev")).timestamp()
        sessions = asyncio.run(_sessions())
        if sessions != {"completed": count // 2}:
            raise SystemExit(f"{kind}: unexpected sessions {sessions}")
        name = f"fabbooking listen, {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}"
        return Result(name + (f", {listeners} listeners" if listeners > 1 else ""),
                      count, last - start, count / (end - start))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        broker.stop()
        if pg_name:
            asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


def _wait_subscribed(port: int, processes: list[subprocess.Popen]) -> None:
    """Publish heartbeats until one is recorded and (where ``ss`` can tell) every listener's
    connection has received one: they are all connected and subscribed."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.monotonic() + 60
    n = 0
    try:
        while asyncio.run(_count("probe")) == 0 or not _all_received(port, processes):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise SystemExit("the listener did not start; see its log")
            gateway, machine = MACHINES[0]
            client.publish(event_topic(SITE, gateway, machine),
                           build_event(UsageEvent(f"probe-{n}", datetime.now(UTC), "heartbeat")), qos=1)
            n += 1
            time.sleep(0.2)
    finally:
        client.loop_stop()
        client.disconnect()


def _all_received(port: int, processes: list[subprocess.Popen]) -> bool:
    if len(processes) < 2 or shutil.which("ss") is None:
        return True
    output = subprocess.run(["ss", "-tinpH", "state", "established", f"( dport = :{port} )"],
                            capture_output=True, text=True).stdout
    received: dict[int, int] = {}
    pid = None
    for line in output.splitlines():
        if owner := re.search(r"pid=(\d+)", line):
            pid = int(owner.group(1))
        elif (amount := re.search(r"bytes_received:(\d+)", line)) and pid is not None:
            received[pid] = received.get(pid, 0) + int(amount.group(1))
    return all(received.get(p.pid, 0) >= 100 for p in processes)


async def _postgres_admin(statement: str, fetch: bool = False):
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        if fetch:
            return await connection.fetchval(statement)
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_reachable() -> bool:
    try:
        asyncio.run(_postgres_admin("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mosquitto = subprocess.run([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"],
                               capture_output=True, text=True).stdout.splitlines()[:1]
    postgres = ""
    try:
        postgres = ", PostgreSQL " + asyncio.run(_postgres_admin("SHOW server_version", fetch=True))
    except Exception:  # noqa: BLE001 - not reachable: not measured either
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{mosquitto[0] if mosquitto else 'mosquitto'}, paho-mqtt {version('paho-mqtt')}, "
            f"SQLite {sqlite3.sqlite_version}{postgres}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per run (default 20000)")
    parser.add_argument("--databases", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (skipped when not reachable)")
    parser.add_argument("--listeners", type=int, default=1,
                        help="also measure this many 'fabbooking listen' sharing the events (default 1: only one)")
    args = parser.parse_args()
    if args.events < 2 or args.events % 2:
        parser.error("--events must be an even number ≥ 2 (job_started/job_finished pairs)")
    print(f"machine: {machine_description()}")
    print(f"events per run: {args.events} (QoS 1, {len(MACHINES)} machines, 2 gateways)\n", flush=True)
    results = [baseline(args.events)]
    print(f"  done: {results[-1].name}", flush=True)
    for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
        if kind == "postgres" and not postgres_reachable():
            print(f"  skipped: PostgreSQL not reachable at {POSTGRES_ADMIN_URL}", flush=True)
            continue
        for listeners in sorted({1, args.listeners}):
            results.append(listener_run(kind, args.events, listeners))
            print(f"  done: {results[-1].name}", flush=True)
    print()
    print(f"| {'receiver':<45} | {'events':>7} | {'seconds':>7} | {'events/s':>8} | {'publish/s':>9} |")
    print(f"| {'-' * 45} | {'-' * 6}: | {'-' * 6}: | {'-' * 7}: | {'-' * 8}: |")
    for r in results:
        print(f"| {r.name:<45} | {r.events:>7} | {r.seconds:>7.1f} | {r.rate:>8.0f} | {r.publish_rate:>9.0f} |")
    shutil.rmtree(_SCRATCH, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
