"""The reference gateway (devices/gateway.py) against a real Mosquitto and the listener:
events survive a broker outage and a gateway restart on disk, then arrive once, replayed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.gateway import (
    CommandSource,
    Config,
    FileSource,
    Gateway,
    GpioSource,
    MachineConfig,
    SourceError,
    load_config,
    main,
)
from devices.mqtt_common import Broker, DeviceError
from fabbooking.usage.power import Thresholds
from fabbooking.usage.tables import (
    DeadLetter,
    MachineLive,
    ReceivedMessage,
    UsageSession,
)
from fabbooking.usage.tables import Gateway as GatewayRow
from tests.conftest import make_machine, make_site
from tests.usage_helpers import (
    eventually,
    listening,  # noqa: F401 - the listener fixture
    wire_gateway,
)

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
GW = "gw-atelier"
QUICK = Thresholds(start_w=200, idle_w=60, start_after_s=0.2, stop_after_s=0.2)


def _config(port: int, tmp_path: Path, watts: Path) -> Config:
    return Config(site="papifab-bellevue", gateway=GW, broker=Broker("127.0.0.1", port), password=None,
                  queue=tmp_path / "queue.sqlite3", machines=[MachineConfig("laser", FileSource(watts), QUICK)],
                  sample_every_s=0.05, heartbeat_every_s=3600, reconnect_max_s=1)


class Running:
    """A gateway running its loop in a thread, as the service does."""

    def __init__(self, config: Config) -> None:
        self.stop = threading.Event()
        self.gateway = Gateway(config)
        self.thread = threading.Thread(target=self.gateway.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()


def _queued(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path, timeout=5) as db:
        return db.execute("SELECT msg_id, replay FROM event ORDER BY id").fetchall()


async def _rows(path: Path, n: int):
    """The queued rows once there are ``n`` of them (True for an empty queue)."""
    rows = await asyncio.to_thread(_queued, path)
    return (rows or True) if len(rows) == n else None


class Spy:
    """A persistent subscriber: it sees every event, even those sent while it was cut off."""

    def __init__(self, port: int) -> None:
        self.payloads: list[dict] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy", clean_session=False)
        self.client.on_message = lambda c, u, m: self.payloads.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe("fablab/v1/+/+/+/event", qos=1)
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_events_queued_during_an_outage_survive_a_restart_and_arrive_once(db, mosquitto, listening, tmp_path):
    site = await make_site("papifab-bellevue")
    machine = await make_machine(site, "laser", kind="laser_cutter")
    await wire_gateway(site, GW, machine)
    spy = Spy(mosquitto.port)
    watts = tmp_path / "watts"
    watts.write_text("12\n")
    config = _config(mosquitto.port, tmp_path, watts)
    await asyncio.to_thread(mosquitto.stop)
    first = Running(config)
    try:
        watts.write_text("850\n")  # the laser cuts while the network is down
        await eventually(lambda: _rows(config.queue, 1))
        watts.write_text("8\n")
        queued = await eventually(lambda: _rows(config.queue, 2))
    finally:
        await asyncio.to_thread(first.halt)
    assert [m.rsplit("-", 1)[-1] for m, _ in queued] == ["job_started", "job_finished"]
    assert all(replay for _, replay in queued)
    assert await _rows(config.queue, 2)  # still on disk after the gateway stopped

    second = Running(config)  # the gateway restarts, the broker comes back
    try:
        await asyncio.to_thread(mosquitto.start)
        session = await eventually(lambda: UsageSession.select().where(UsageSession.outcome == "completed").first(),
                                   timeout=60)
        await eventually(lambda: _rows(config.queue, 0), timeout=30)  # acknowledged, so off the disk
        assert session["replayed"] and session["booking"] is None and session["walk_in"]
        assert session["energy_wh"] > 0 and session["duration_s"] > 0
        assert await UsageSession.count() == 1
        msg_ids = {m for m, _ in queued}
        keys = {r["key"] for r in await ReceivedMessage.select(ReceivedMessage.key)}
        assert {k for k in keys if "power-" in k and "-still-" not in k} == {f"gw:{GW}:{m}" for m in msg_ids}
        await eventually(lambda: _spied(spy, msg_ids), timeout=20)
        seen = [p for p in spy.payloads if p["msg_id"] in msg_ids]
        assert sorted(p["msg_id"] for p in seen) == sorted(msg_ids)  # each exactly once
        assert all(p["replay"] is True for p in seen)
        await eventually(lambda: GatewayRow.exists().where((GatewayRow.ident == GW) & (GatewayRow.state == "ready")))
        assert await DeadLetter.count() == 0
    finally:
        await asyncio.to_thread(second.halt)
        spy.close()


async def _spied(spy: Spy, msg_ids: set[str]) -> bool:
    return msg_ids <= {p["msg_id"] for p in spy.payloads}


async def test_a_connected_gateway_reports_at_once_and_says_lost_when_stopped(db, mosquitto, listening, tmp_path):
    site = await make_site("papifab-bellevue")
    machine = await make_machine(site, "laser", kind="laser_cutter")
    await wire_gateway(site, GW, machine)
    watts = tmp_path / "watts"
    watts.write_text("15")
    config = _config(mosquitto.port, tmp_path, watts)
    running = Running(config)
    try:
        await eventually(lambda: _live(machine, "idle"))  # "ready", then a heartbeat
        watts.write_text("900")
        started = await eventually(lambda: UsageSession.select().where(UsageSession.outcome == "running").first())
        assert not started["replayed"]
        await eventually(lambda: _live(machine, "busy"))
        watts.write_text("20")
        await eventually(lambda: UsageSession.exists().where(UsageSession.outcome == "completed"))
        await eventually(lambda: _rows(config.queue, 0))
    finally:
        await asyncio.to_thread(running.halt)
    await eventually(lambda: _live(machine, "offline"))
    assert (await GatewayRow.select(GatewayRow.state).first())["state"] == "lost"


async def _live(machine_id: int, state: str) -> bool:
    return await MachineLive.exists().where((MachineLive.machine == machine_id) & (MachineLive.state == state))


def test_sources(tmp_path):
    reading = tmp_path / "watts"
    reading.write_text(" 734.5\n")
    assert FileSource(reading).read_watts() == 734.5
    reading.write_text("n/a")
    with pytest.raises(SourceError, match="not a number"):
        FileSource(reading).read_watts()
    with pytest.raises(SourceError, match="cannot read"):
        FileSource(tmp_path / "missing").read_watts()
    assert CommandSource("echo 'power: 42.5'").read_watts() == 42.5
    with pytest.raises(SourceError, match="failed"):
        CommandSource("exit 3").read_watts()
    pin = tmp_path / "gpio" / "gpio17"
    pin.mkdir(parents=True)
    (pin / "value").write_text("1\n")
    assert GpioSource(17, on_w=1500, root=tmp_path / "gpio").read_watts() == 1500
    assert GpioSource(17, on_w=1500, active_low=True, root=tmp_path / "gpio").read_watts() == 0
    with pytest.raises(SourceError, match="export the pin"):
        GpioSource(4, root=tmp_path / "gpio").read_watts()


def test_the_example_config_loads_and_bad_ones_are_explained(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FABBOOKING_GATEWAY_PASSWORD", "from-env")
    config = load_config(ROOT / "devices" / "gateway.example.toml")
    assert (config.site, config.gateway, config.password) == ("papifab-bellevue", "gw-bellevue", "from-env")
    assert config.broker.tls and config.broker.port == 8883
    assert config.machines[0].thresholds == Thresholds(200, 60, 30, 120)
    bad = tmp_path / "bad.toml"
    for text, message in [('site = "x"', "'gateway' is missing"),
                          ('site="a"\ngateway="b"\nbroker="mqtt://h"\n[[machine]]\nid="m"\nsource="usb"', "source must be"),
                          ('site="A B"\ngateway="b"\nbroker="mqtt://h"\n[[machine]]\nid="m"\nsource="file"\npath="/x"',
                           "site 'A B'"),
                          ("site = [", "not valid TOML")]:
        bad.write_text(text)
        with pytest.raises(DeviceError, match=message):
            load_config(bad)
    watts = tmp_path / "w"
    watts.write_text("61")
    good = tmp_path / "good.toml"
    good.write_text(f'site="a"\ngateway="b"\nbroker="mqtt://h"\n[[machine]]\nid="m"\nsource="file"\npath="{watts}"\n')
    assert main(["--config", str(good), "--check"]) == 0
    assert "m: 61.0 W" in capsys.readouterr().out
    assert main(["--config", str(bad)]) == 2


# --- on a Raspberry Pi: the standard library and paho-mqtt, nothing of the web server ---------

SERVER_ONLY = ("litestar", "piccolo", "piccolo_api", "piccolo_admin", "PIL", "jinja2", "aiosqlite", "asyncpg",
               "amqtt", "uvicorn", "msgspec", "babel", "markdown_it", "nh3", "icalendar")
ON_A_PI = f"""
import importlib.abc, runpy, sys

class ServerOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_ONLY!r}:
            raise ImportError(f"{{name}} is not installed on the Pi")

sys.meta_path.insert(0, ServerOnly())
"""


def _on_a_pi(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ON_A_PI + code, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_gateway_imports_without_the_web_servers_packages():
    probe = _on_a_pi("""
import devices.gateway, devices.gateway_queue, devices.mqtt_common, devices.sources
print(" ".join(m for m in sys.modules if m.startswith("fabbooking")))
try:
    import fabbooking.usage.tables
except ImportError as exc:
    print("server part refused:", exc)
""")
    out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, err
    assert "server part refused: piccolo" in out  # the block works: the server's own tables need it
    shared = set(out.splitlines()[0].split())
    assert shared <= {"fabbooking", "fabbooking.usage", "fabbooking.usage.contract", "fabbooking.usage.power",
                      "fabbooking.usage.broker_url"}, shared


def test_the_gateway_runs_without_the_web_servers_packages(mosquitto, tmp_path):
    """--check, then a real connection: it says "ready" on its status topic, "lost" when stopped."""
    watts = tmp_path / "watts"
    watts.write_text("61")
    config = tmp_path / "gateway.toml"
    config.write_text(f'site = "papifab-bellevue"\ngateway = "{GW}"\nbroker = "{mosquitto.url}"\n'
                      f'queue = "{tmp_path / "queue.sqlite3"}"\nsample_every_s = 0.1\n'
                      f'[[machine]]\nid = "laser"\nsource = "file"\npath = "{watts}"\n')
    run_gateway = "sys.argv[0] = 'gateway'; runpy.run_module('devices.gateway', run_name='__main__')"
    check = _on_a_pi(run_gateway, "--config", str(config), "--check")
    out, err = check.communicate(timeout=60)
    assert check.returncode == 0 and "laser: 61.0 W" in out, err

    states: list[str] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2)
    watcher.on_message = lambda client, userdata, message: states.append(json.loads(message.payload)["state"])
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe(f"fablab/v1/papifab-bellevue/{GW}/status", qos=1)
    watcher.loop_start()
    gateway = _on_a_pi(run_gateway, "--config", str(config))
    try:
        _wait_until(lambda: "ready" in states, gateway)
        gateway.terminate()
        assert gateway.wait(timeout=30) == 0, gateway.stderr.read()
        _wait_until(lambda: states[-1] == "lost", gateway)
    finally:
        if gateway.poll() is None:
            gateway.kill()
        watcher.loop_stop()
        watcher.disconnect()


def _wait_until(condition, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() not in (None, 0):
            raise AssertionError(process.stderr.read())
        assert time.monotonic() < deadline, "the gateway said nothing"
        time.sleep(0.05)
