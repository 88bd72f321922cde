"""MQTT usage throughput, draining a backlog: how fast ``fabbooking listen`` records what the
broker queued for it, beside a do-nothing paho subscriber draining the same backlog.

    .venv/bin/python bench/mqtt_throughput.py                      # 20,000 messages, SQLite + PostgreSQL
    .venv/bin/python bench/mqtt_throughput.py --events 5000 --databases sqlite
    .venv/bin/python bench/mqtt_throughput.py --events 200000 --databases postgres --no-baseline   # RSS under a backlog
    .venv/bin/python bench/mqtt_throughput.py --repeat 5            # medians: the machine is shared
    .venv/bin/python bench/mqtt_throughput.py --profile /tmp/prof  # py-spy profile of the listener
    .venv/bin/python bench/mqtt_throughput.py --databases postgres --listeners 1,2,3   # listeners that add up

Every measurement gets its own private Mosquitto (persistence on, max_queued_messages 0, as
the docs require) on a free port. Drain mode, so that the publisher never caps the rate: the
receiver's persistent session is created first (subscribed, then gone), the N messages are
published and queued by the broker, and only then the receiver is started.

The mix is a network's, over 12 sites: contract events from 200 machines on 24 gateways (job_started,
heartbeat, job_finished), Tasmota SENSOR readings from 100 plugs, Shelly NotifyStatus from
50 plugs and OctoPrint PrintStarted/PrintDone from 50 printers, interleaved in time order.
The plugs' power draws make jobs (300 s at 900 W between idle spells); the sessions the
database must hold are computed with the pure power detector.

- baseline: a paho MQTT v5 QoS 1 subscriber (persistent session, paho's defaults) that only
  counts; rate = N / (last message − first message).
- ``fabbooking listen`` on a fresh database (a temporary SQLite file; a temporary
  PostgreSQL database when FABBOOKING_TEST_POSTGRES_URL, default
  postgresql://postgres@127.0.0.1:5432/postgres, is reachable): rate = N / (time the N-th
  message key is seen committed − the first batch's start). Then every message key must be
  there exactly (0 lost), every machine must have exactly the expected sessions with the
  expected outcomes (0 duplicated, 0 missing), and no dead letter. The listener's peak RSS
  while draining is printed too.
- ``--listeners 1,2,3``: the same with N listeners, ``fabbooking listen --partition K/N``
  (N = 1: one plain listener), each with its own session; the rate is the whole backlog's.
  Also printed: messages per CPU second, of the listeners alone and of the whole machine
  (listeners, Mosquitto, PostgreSQL, anything else running) while they drain. The 12 sites
  are chosen so that 2 and 3 listeners get 6/6 and 4/4/4 of them.

It is a script, not a test: run it when the listener or the recording changes, and update
the table in docs/performance.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this folder comes first on the path: a bench module named like a standard
# one (bench/http.py) would shadow it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_SCRATCH = Path(tempfile.mkdtemp(prefix="fabbooking-bench-mqtt-"))
# fabbooking.database builds an engine from this at import time: point it somewhere harmless.
os.environ["FABBOOKING_DATABASE_URL"] = f"sqlite:///{_SCRATCH}/import.sqlite3"
os.environ.setdefault("FABBOOKING_VAR_DIR", str(_SCRATCH / "var"))
os.environ.pop("FABBOOKING_MQTT_URL", None)

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

from fabbooking import database  # noqa: E402
from fabbooking.settings import parse_database_url  # noqa: E402
from fabbooking.usage.contract import Job, UsageEvent, build_event, event_topic  # noqa: E402
from fabbooking.usage.partition import share_of  # noqa: E402
from fabbooking.usage.power import Detector, Reading, Thresholds, feed  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("FABBOOKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GATEWAYS, CONTRACT_MACHINES, TASMOTA_PLUGS, SHELLY_PLUGS, OCTOPRINTS = 24, 200, 100, 50, 50


def _balanced_sites(count: int = 12) -> list[str]:
    """``count`` site slugs, as many in each share of 2 and of 3 listeners (--partition)."""
    cells: Counter = Counter()
    sites = []
    n = 0
    while len(sites) < count:
        slug = f"bench-site-{n:02d}"
        cell = (share_of(slug, 2), share_of(slug, 3))
        if cells[cell] < count // 6:
            cells[cell] += 1
            sites.append(slug)
        n += 1
    return sites


SITES = _balanced_sites()
# shares of the messages: contract events, Tasmota readings, Shelly notifications, OctoPrint events
SHARES = {"contract": 0.5, "tasmota": 0.3, "shelly": 0.1, "octoprint": 0.1}
READING_EVERY_S = 10
PLUG_CYCLE = [10.0] * 6 + [900.0] * 30 + [10.0] * 24  # idle, a 300 s job, idle (watts, one per reading)
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {folder}/
autosave_interval 60
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


@dataclass
class Mix:
    """The messages to publish, and what the database must hold once they are recorded."""

    messages: list[tuple[float, str, bytes]] = field(default_factory=list)  # (moment, topic, payload)
    keys: int = 0  # message keys (every message of the mix is deduplicated by one)
    sessions: dict[str, Counter] = field(default_factory=dict)  # machine slug -> outcomes

    def ordered(self) -> list[tuple[str, bytes]]:
        return [(topic, payload) for _, topic, payload in sorted(self.messages, key=lambda m: m[0])]


def contract_machine(n: int) -> tuple[str, str]:
    return f"gw-{n % GATEWAYS:02d}", f"machine-{n:03d}"


def gateway_site(n: int) -> str:
    """The site of gateway ``n`` (and of contract machine ``n``: its gateway is n % GATEWAYS)."""
    return SITES[n % GATEWAYS % len(SITES)]


def mix(count: int) -> Mix:
    """About ``count`` messages of a network's traffic, from a day ago on."""
    per = {kind: int(count * share) for kind, share in SHARES.items()}
    per["contract"] += count - sum(per.values())
    span = max(per["contract"] // (3 * CONTRACT_MACHINES) * 900, per["octoprint"] // (2 * OCTOPRINTS) * 3600,
               per["tasmota"] // TASMOTA_PLUGS * READING_EVERY_S)
    base = (datetime.now(UTC) - timedelta(seconds=span, hours=2)).replace(microsecond=0)  # all in the past
    result = Mix()
    for n in range(per["contract"]):  # job_started, heartbeat, job_finished, round the machines
        machine = n % CONTRACT_MACHINES
        step, cycle = (n // CONTRACT_MACHINES) % 3, n // (3 * CONTRACT_MACHINES)
        gateway, slug = contract_machine(machine)
        at = base + timedelta(seconds=cycle * 900 + step * 300 + machine)
        job = Job(f"job-{cycle}", file=f"part-{cycle}.gcode") if step == 0 else Job(f"job-{cycle}", duration_s=600.0)
        event = UsageEvent(f"{slug}-{n}", at, ("job_started", "heartbeat", "job_finished")[step],
                           job if step != 1 else None)
        result.messages.append((at.timestamp(), event_topic(gateway_site(machine), gateway, slug), build_event(event)))
        if step != 1:
            outcome = "running" if step == 0 else "completed"
            sessions = result.sessions.setdefault(slug, Counter())
            sessions[outcome] += 1
            if step == 2:
                sessions["running"] -= 1
    _plugs(result, base, per["tasmota"], TASMOTA_PLUGS, "tasmota")
    _plugs(result, base, per["shelly"], SHELLY_PLUGS, "shelly")
    for n in range(per["octoprint"]):  # PrintStarted, PrintDone
        printer, step, cycle = n % OCTOPRINTS, (n // OCTOPRINTS) % 2, n // (2 * OCTOPRINTS)
        started = base + timedelta(seconds=cycle * 3600 + printer)
        at = started + timedelta(seconds=1800 * step)
        body = {"name": f"print-{cycle}.gcode", "path": f"print-{cycle}.gcode", "origin": "local",
                "_timestamp": int(at.timestamp())}
        if step:
            body["time"] = 1800.0
        event = ("PrintStarted", "PrintDone")[step]
        result.messages.append((at.timestamp(), f"octoprint-{printer:02d}/event/{event}",
                                json.dumps({**body, "_event": event}).encode()))
        sessions = result.sessions.setdefault(f"printer-{printer:02d}", Counter())
        sessions["running" if step == 0 else "completed"] += 1
        if step:
            sessions["running"] -= 1
    result.keys = len(result.messages)
    for sessions in result.sessions.values():
        for outcome in [o for o, k in sessions.items() if k == 0]:
            del sessions[outcome]
    return result


def _plugs(result: Mix, base: datetime, count: int, plugs: int, kind: str) -> None:
    """Readings every 10 s from ``plugs`` metering plugs; the sessions they make, by the pure detector."""
    detectors = [Detector() for _ in range(plugs)]
    for n in range(count):
        plug, reading = n % plugs, n // plugs
        at = base + timedelta(seconds=reading * READING_EVERY_S, milliseconds=plug)
        power = PLUG_CYCLE[reading % len(PLUG_CYCLE)]
        total_wh = 1000.0 + reading * 2.5
        slug = f"{kind}-{plug:03d}"
        if kind == "tasmota":
            topic = f"tele/{slug}/SENSOR"
            payload = {"Time": at.replace(tzinfo=None).isoformat(timespec="seconds"),
                       "ENERGY": {"Total": total_wh / 1000, "Power": power, "Voltage": 230}}
        else:
            topic = f"{slug}/events/rpc"
            payload = {"src": slug, "dst": f"{slug}/events", "method": "NotifyStatus",
                       "params": {"ts": at.timestamp(), "switch:0": {"id": 0, "apower": power,
                                                                     "aenergy": {"total": total_wh}}}}
        result.messages.append((at.timestamp(), topic, json.dumps(payload).encode()))
        # what Fabbooking must find: the pure detector over the same readings (Tasmota's Time
        # is read to the second)
        moment = at.replace(microsecond=0) if kind == "tasmota" else at
        detectors[plug], jobs = feed(detectors[plug], Reading(moment, power, total_wh), Thresholds())
        sessions = result.sessions.setdefault(slug, Counter())
        for job in jobs:
            if job.event == "job_started":
                sessions["running"] += 1
            else:
                sessions["running"] -= 1
                sessions["completed"] += 1


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish QoS 1 as fast as the broker takes them; messages per second."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    infos = []
    for topic, payload in messages:
        infos.append(client.publish(topic, payload, qos=1))
        if len(infos) > 10_000:  # message ids are 16 bits: never that many outstanding
            infos[-10_001].wait_for_publish(timeout=600)
    for info in infos[-10_000:]:
        info.wait_for_publish(timeout=600)
    rate = len(messages) / (time.monotonic() - start)
    client.loop_stop()
    client.disconnect()
    return rate


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    publish_rate: float
    peak_rss_mb: float | None = None
    listeners_cpu_s: float | None = None  # CPU seconds of the listener processes while draining
    machine_cpu_s: float | None = None  # CPU seconds of the whole machine meanwhile
    drained: int = 0  # messages recorded over those CPU seconds

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def _session_properties() -> Properties:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    return properties


def baseline(count: int, messages: list[tuple[str, bytes]]) -> Result:
    """A paho MQTT v5 subscriber that does nothing but count (QoS 1, acknowledged by paho at
    once), draining the same backlog from its persistent session."""
    broker = Broker()
    received = 0
    first, last = [0.0], [0.0]
    done, subscribed = threading.Event(), threading.Event()

    def on_message(client, userdata, message) -> None:
        nonlocal received
        received += 1
        last[0] = time.monotonic()
        if received == 1:
            first[0] = last[0]
        if received >= count:
            done.set()

    def client() -> mqtt.Client:
        paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-null", protocol=mqtt.MQTTv5)
        paho.on_message = on_message
        paho.on_subscribe = lambda *args: subscribed.set()
        paho.connect("127.0.0.1", broker.port, clean_start=False, properties=_session_properties())
        paho.loop_start()
        return paho

    try:
        session = client()
        session.subscribe("#", options=SubscribeOptions(qos=1))
        if not subscribed.wait(20):
            raise SystemExit("the do-nothing subscriber could not subscribe")
        session.disconnect()
        session.loop_stop()
        publish_rate = publish_all(broker.port, messages)
        drain = client()
        if not done.wait(600):
            raise SystemExit(f"the do-nothing subscriber received only {received} of {count}")
        drain.disconnect()
        drain.loop_stop()
        return Result("do-nothing paho subscriber", count, last[0] - first[0], publish_rate)
    finally:
        broker.stop()


async def _seed() -> None:
    from fabbooking.network.tables import Machine, Site
    from fabbooking.usage.tables import Gateway, Telemetry

    sites = {slug: (await Site.insert(Site(slug=slug, name=slug, timezone="UTC")).returning(Site.id))[0]["id"]
             for slug in SITES}
    gateways = {}
    for n in range(GATEWAYS):
        ident = f"gw-{n:02d}"
        gateways[ident] = (await Gateway.insert(Gateway(ident=ident, site=sites[gateway_site(n)], name=ident))
                           .returning(Gateway.id))[0]["id"]

    async def machine(n: int, slug: str, **telemetry) -> None:
        site = sites[gateway_site(n)] if telemetry["format"] == "contract" else sites[SITES[n % len(SITES)]]
        machine_id = (await Machine.insert(Machine(site=site, slug=slug, name=slug)).returning(Machine.id))[0]["id"]
        await Telemetry.insert(Telemetry(machine=machine_id, **telemetry))

    for n in range(CONTRACT_MACHINES):
        gateway, slug = contract_machine(n)
        await machine(n, slug, format="contract", gateway=gateways[gateway])
    for n in range(TASMOTA_PLUGS):
        await machine(n, f"tasmota-{n:03d}", format="tasmota", device_topic=f"tasmota-{n:03d}")
    for n in range(SHELLY_PLUGS):
        await machine(n, f"shelly-{n:03d}", format="shelly", device_topic=f"shelly-{n:03d}")
    for n in range(OCTOPRINTS):
        await machine(n, f"printer-{n:02d}", format="octoprint", device_topic=f"octoprint-{n:02d}")


async def _keys() -> int:
    from fabbooking.usage.tables import ReceivedMessage

    return await ReceivedMessage.count()


async def _first_batch() -> datetime:
    from fabbooking.usage.tables import ReceivedMessage

    row = await ReceivedMessage.select(ReceivedMessage.received_at).where(
        ReceivedMessage.key.not_like("gw:%:probe-%")).order_by(ReceivedMessage.received_at).first()
    return row["received_at"]


async def _check(expected: Mix, probes: int) -> list[str]:
    """What is wrong with the database, compared with ``expected`` (nothing: [])."""
    from fabbooking.network.tables import Machine
    from fabbooking.usage.tables import DeadLetter, UsageSession

    problems = []
    keys = await _keys() - probes
    if keys != expected.keys:
        problems.append(f"{keys} message keys instead of {expected.keys}")
    slugs = {m["id"]: m["slug"] for m in await Machine.select(Machine.id, Machine.slug)}
    found: dict[str, Counter] = {}
    for row in await UsageSession.select(UsageSession.machine, UsageSession.outcome):
        found.setdefault(slugs[row["machine"]], Counter())[row["outcome"]] += 1
    wrong = {slug: (dict(found.get(slug, {})), dict(want)) for slug, want in expected.sessions.items()
             if found.get(slug, Counter()) != want}
    wrong.update({slug: (dict(got), {}) for slug, got in found.items() if slug not in expected.sessions})
    if wrong:
        problems.append(f"{len(wrong)} machines with other sessions than expected (found, expected), "
                        f"e.g. {list(wrong.items())[:3]}")
    dead = await DeadLetter.select(DeadLetter.topic, DeadLetter.reason).limit(3)
    if dead:
        problems.append(f"dead letters: {dead}")
    return problems


def _use(url: str):
    engine = database.build_engine(parse_database_url(url))
    database.use_engine(engine)
    return engine


def listener_run(kind: str, expected: Mix, messages: list[tuple[str, bytes]], profile: Path | None,
                 listeners: int = 1) -> Result:
    """``fabbooking listen`` on a fresh database of ``kind``, draining the backlog its
    session holds: messages recorded per second, checked against ``expected``. With
    ``listeners`` > 1, that many with ``--partition K/N``, each draining its own session."""
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
    engine = _use(url)
    asyncio.run(_seed())
    broker = Broker()
    log = open(_SCRATCH / f"listen-{kind}.log", "w")  # noqa: SIM115 - closed below
    if listeners == 1:
        commands = [[sys.executable, "-m", "fabbooking", "listen", "--client-id", f"bench-{kind}"]]
    else:
        commands = [[sys.executable, "-m", "fabbooking", "listen", "--partition", f"{k}/{listeners}",
                     "--client-id", f"bench-{kind}-{k}-of-{listeners}"] for k in range(1, listeners + 1)]
    listen_env = {**env, "FABBOOKING_MQTT_URL": broker.url}

    def start() -> list[subprocess.Popen]:
        return [subprocess.Popen(c, cwd=ROOT, env=listen_env, stdout=log, stderr=subprocess.STDOUT) for c in commands]

    processes = start()
    spy = None
    try:
        probes = _wait_subscribed(broker.port, processes, listeners)  # their persistent sessions, subscribed
        for process in processes:
            _stop(process)
        publish_rate = publish_all(broker.port, messages)  # queued by the broker for the sessions
        processes = start()
        if profile:
            profile.mkdir(parents=True, exist_ok=True)
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy = subprocess.Popen([py_spy, "record", "--pid", str(processes[0].pid), "--rate", "200", "--format", "raw",
                                    "-o", str(profile / f"listen-{kind}.txt")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        total = expected.keys + probes
        deadline = time.monotonic() + max(300, len(messages) / 50)
        drain = asyncio.run(_await_recorded(processes, total, probes, expected.keys, deadline))
        if drain.done is None:
            raise SystemExit(f"{kind}: only {asyncio.run(_keys()) - probes} of {expected.keys} recorded "
                             f"(log: {log.name})")
        first = asyncio.run(_first_batch()).timestamp()
        problems = asyncio.run(_check(expected, probes))
        if problems:
            raise SystemExit(f"{kind}: " + "; ".join(problems))
        print("  listener RSS (MB) as the backlog drains: "
              + ", ".join(f"{25 * q} %: {mb:.0f}" for q, mb in sorted(drain.quarters.items())), flush=True)
        name = f"fabbooking listen, {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}"
        if listeners > 1:
            name += f", {listeners} partitions"
        return Result(name, expected.keys, drain.done - first, publish_rate, drain.peak_rss,
                      drain.listeners_cpu_s, drain.machine_cpu_s, drain.drained)
    finally:
        if spy:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        for process in processes:
            _stop(process)
        log.close()
        broker.stop()
        if hasattr(engine, "close_pool"):
            asyncio.run(engine.close_pool())
        if pg_name:
            asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@dataclass
class Drain:
    done: float | None  # when the last message was seen committed (None: a listener died, or too late)
    peak_rss: float  # MB, the largest listener
    quarters: dict[int, float]  # RSS when a quarter, half… of the backlog is recorded
    listeners_cpu_s: float = 0.0  # from the first recorded batch to the end
    machine_cpu_s: float = 0.0
    drained: int = 0  # messages recorded over that span


async def _await_recorded(processes: list[subprocess.Popen], total: int, probes: int, count: int,
                          deadline: float) -> Drain:
    """Poll (every 10 ms, on one connection: the poll must not take the CPU the listeners
    need) until ``total`` message keys are committed. CPU is counted from the first poll that
    sees the drain under way (the listeners' start-up, imports and migrations, left out)."""
    pooled = database.is_postgres()
    if pooled:
        await database.DB.start_connection_pool(min_size=1, max_size=1)
    drain = Drain(None, 0.0, {})
    start: tuple[int, float, float] | None = None  # (recorded, listeners' CPU s, machine's CPU s)
    try:
        while (recorded := await _keys()) < total:
            drain.peak_rss = max([drain.peak_rss] + [_rss_mb(p.pid) for p in processes])
            drain.quarters.setdefault(4 * (recorded - probes) // count, drain.peak_rss)
            if start is None and recorded > probes:
                start = (recorded, sum(_cpu_s(p.pid) for p in processes), _machine_cpu_s())
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                return drain
            await asyncio.sleep(0.01)
        drain.done = time.time()
        if start:
            drain.drained = total - start[0]
            drain.listeners_cpu_s = sum(_cpu_s(p.pid) for p in processes) - start[1]
            drain.machine_cpu_s = _machine_cpu_s() - start[2]
        return drain
    finally:
        if pooled:
            await database.DB.close_connection_pool()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (and of its finished children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _machine_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (every core; idle and iowait left out)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0.0
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _wait_subscribed(port: int, processes: list[subprocess.Popen], listeners: int = 1) -> int:
    """Publish heartbeats until one is recorded from a site of every share: the listeners are
    connected and subscribed. How many probes were recorded."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.monotonic() + 60
    # one contract machine of each share (with one listener: machine 0)
    probed = [next(n for n in range(CONTRACT_MACHINES) if share_of(gateway_site(n), listeners) == k)
              for k in range(1, listeners + 1)]
    n = 0
    try:
        while not _probes_recorded(probed):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise SystemExit("a listener did not start; see its log")
            for machine in probed:
                gateway, slug = contract_machine(machine)
                client.publish(event_topic(gateway_site(machine), gateway, slug),
                               build_event(UsageEvent(f"probe-{n}", datetime.now(UTC), "heartbeat")),
                               qos=1).wait_for_publish(10)
                n += 1
            time.sleep(0.2)
        time.sleep(0.5)  # the probes still on their way
        return asyncio.run(_keys())
    finally:
        client.loop_stop()
        client.disconnect()


def _probes_recorded(machines: list[int]) -> bool:
    from fabbooking.usage.tables import ReceivedMessage

    async def gateways() -> set[str]:
        rows = await ReceivedMessage.select(ReceivedMessage.key).where(ReceivedMessage.key.like("gw:%:probe-%"))
        return {row["key"].split(":")[1] for row in rows}

    return {contract_machine(n)[0] for n in machines} <= asyncio.run(gateways())


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
    parser.add_argument("--events", type=int, default=20_000, help="messages per run (default 20000)")
    parser.add_argument("--databases", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (skipped when not reachable)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the do-nothing subscriber")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each receiver; the median is shown (default 1)")
    parser.add_argument("--profile", type=Path, help="record the listener with py-spy (raw stacks) in this folder")
    parser.add_argument("--listeners", default="1",
                        help="comma-separated numbers of listeners (fabbooking listen --partition K/N), e.g. 1,2,3 "
                        "(default 1)")
    args = parser.parse_args()
    try:
        counts = [int(n) for n in args.listeners.split(",")]
    except ValueError:
        counts = [0]
    if not all(1 <= n <= 12 for n in counts):
        parser.error(f"--listeners {args.listeners!r}: write numbers from 1 to 12 separated by commas, e.g. 1,2,3")
    if args.events < 1000:
        parser.error("--events must be at least 1000")
    print(f"machine: {machine_description()}")
    expected = mix(args.events)
    messages = expected.ordered()
    print(f"messages per run: {len(messages)} (QoS 1, drained from the broker's queue): "
          f"{CONTRACT_MACHINES} machines on {GATEWAYS} gateways, {TASMOTA_PLUGS} Tasmota, {SHELLY_PLUGS} Shelly, "
          f"{OCTOPRINTS} OctoPrint; {sum(sum(c.values()) for c in expected.sessions.values())} sessions\n", flush=True)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if "postgres" in kinds and not postgres_reachable():
        print(f"  skipped: PostgreSQL not reachable at {POSTGRES_ADMIN_URL}", flush=True)
        kinds.remove("postgres")
    runs: dict[str, list[Result]] = {}
    for _ in range(args.repeat):  # interleaved, so that a busy spell of the machine hits every receiver alike
        if not args.no_baseline:
            runs.setdefault("baseline", []).append(baseline(len(messages), messages))
            print(f"  done: {runs['baseline'][-1].name}: {runs['baseline'][-1].rate:.0f}/s", flush=True)
        for kind in kinds:
            for n in counts:
                key = kind if n == 1 else f"{kind}-{n}"
                runs.setdefault(key, []).append(listener_run(kind, expected, messages, args.profile, n))
                print(f"  done: {runs[key][-1].name}: {runs[key][-1].rate:.0f}/s, 0 lost, 0 duplicated", flush=True)
    medians = {kind: sorted(results, key=lambda r: r.rate)[len(results) // 2] for kind, results in runs.items()}
    base = medians["baseline"].rate if "baseline" in medians else None
    print(f"\n{args.repeat} run(s) each; the median run is shown, the range of msg/s beside it; "
          "'of baseline': the median of each round's listener rate over that round's baseline rate\n")
    print(f"| {'receiver':<44} | {'messages':>8} | {'seconds':>7} | {'msg/s':>6} | {'range':>13} | {'of baseline':>11} "
          f"| {'peak RSS':>8} |")
    print(f"| {'-' * 44} | {'-' * 7}: | {'-' * 6}: | {'-' * 5}: | {'-' * 12}: | {'-' * 10}: | {'-' * 7}: |")
    for kind, r in medians.items():
        rates = [x.rate for x in runs[kind]]
        spread = f"{min(rates):.0f}–{max(rates):.0f}"
        rounds = sorted(x.rate / b.rate for x, b in zip(runs[kind], runs["baseline"], strict=True)) if base else []
        share = f"{100 * rounds[len(rounds) // 2]:.0f} %" if base else "—"
        rss = f"{max(x.peak_rss_mb or 0 for x in runs[kind]):.0f} MB" if r.peak_rss_mb else "—"
        print(f"| {r.name:<44} | {r.events:>8} | {r.seconds:>7.2f} | {r.rate:>6.0f} | {spread:>13} | {share:>11} "
              f"| {rss:>8} |")
    cpu = {kind: r for kind, r in medians.items() if r.listeners_cpu_s}
    if cpu:
        print(f"\nper CPU second, over the drain (the median run): {os.cpu_count()} cores\n")
        print(f"| {'receiver':<44} | {'listeners CPU s':>15} | {'msg/listener CPU s':>18} | {'machine CPU s':>13} "
              f"| {'msg/machine CPU s':>17} |")
        print(f"| {'-' * 44} | {'-' * 14}: | {'-' * 17}: | {'-' * 12}: | {'-' * 16}: |")
        for r in cpu.values():
            print(f"| {r.name:<44} | {r.listeners_cpu_s:>15.2f} | {r.drained / r.listeners_cpu_s:>18.0f} "
                  f"| {r.machine_cpu_s:>13.2f} | {r.drained / max(r.machine_cpu_s or 0, 0.01):>17.0f} |")
    shutil.rmtree(_SCRATCH, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
