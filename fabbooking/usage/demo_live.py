"""The demo comes alive: on the data of ``fabbooking demo``, ``serve`` plays the demo's machines
with the device simulator (devices/simulator.py) — real MQTT messages, through the broker,
to the real listener — so machines go busy and idle, usage sessions appear and the figures
move. Pages then carry a banner saying the machines are simulated.

When: ``FABBOOKING_DEMO_LIVE`` (fabbooking.settings.demo_live) is ``on`` or ``off`` to force
it; unset, the machines play when the database holds the demo (``DemoNetwork``) and the
broker is the one embedded in ``serve`` — never against a real network's broker.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from dataclasses import dataclass

from fabbooking.usage.broker_url import BrokerAddress

log = logging.getLogger("fabbooking.usage.demo")
RETRY_S = 30.0  # after the broker went away
JOBS_PER_ROUND = 3
PACE = 1.0  # real time; tests play faster
STOP_WAIT_S = 5.0

# What each demo device draws (MachineSpec's watts; the thresholds are the demo's telemetry
# settings, fabbooking/demo.py): a Trotec Speedy 400 with its extraction, a small Epilog.
# Plugs report every 30 s (a real Tasmota: 300 s) so a job shows within a minute.
SPEC_OPTIONS: dict[str, dict] = {
    "trotec-speedy-400": dict(kind="laser", standby_w=45.0, cutting_w=1400.0, idle_w=120.0, start_w=300.0,
                              tele_period_s=30.0),
    "epilog-zing": dict(kind="laser", standby_w=30.0, cutting_w=650.0, idle_w=120.0, start_w=300.0,
                        tele_period_s=30.0),
}

_playing = threading.Event()  # read by the pages' banner


def banner_shown() -> bool:
    """True while this process plays (or, in a web process of ``--workers``, knows that its
    worker plays) the demo's simulated machines."""
    return _playing.is_set()


def should_play(mode: str, demo_data: bool, embedded_broker: bool) -> bool:
    """``mode`` is FABBOOKING_DEMO_LIVE (on, off, auto)."""
    if mode != "auto":
        return mode == "on"
    return demo_data and embedded_broker


@dataclass(frozen=True)
class DemoDevice:
    site: str
    machine: str
    format: str
    gateway: str | None
    device_topic: str


async def demo_devices() -> list[DemoDevice]:
    """The demo's devices whose machine still reports as the demo set it up (an admin may
    have changed one since: that one is left alone)."""
    from fabbooking.demo import DEVICES
    from fabbooking.usage.tables import Telemetry

    rows = await Telemetry.select(
        Telemetry.machine.site.slug.as_alias("site"), Telemetry.machine.slug.as_alias("machine"),
        Telemetry.format, Telemetry.gateway.ident.as_alias("gateway"), Telemetry.device_topic)
    configured = {(r["site"], r["machine"]): r for r in rows}
    found = []
    for site, machine, fmt, gateway, topic in DEVICES:
        row = configured.get((site, machine))
        if row and row["format"] == fmt and (row["gateway"] or None) == gateway and (row["device_topic"] or "") == topic:
            found.append(DemoDevice(site, machine, fmt, gateway, topic))
    return found


async def is_demo_data() -> bool:
    from fabbooking.network.tables import DemoNetwork

    return await DemoNetwork.exists()


async def decide(embedded_broker: bool) -> bool:
    """Whether this process should play the demo's machines (reads the database once)."""
    from fabbooking.settings import demo_live

    mode = demo_live()
    if mode == "off":
        return False
    try:
        demo_data = await is_demo_data()
    except Exception:  # noqa: BLE001 - a database not migrated yet is not the demo
        log.exception("cannot tell whether this is the demo's data; its machines will not play")
        return False
    return should_play(mode, demo_data, embedded_broker)


async def note_demo_banner(embedded_broker: bool) -> None:
    """For web processes whose background jobs run in another process (``--workers``)."""
    if os.environ.get("FABBOOKING_LISTENER", "on") != "off" and await decide(embedded_broker):
        _playing.set()


async def play_demo_machines(broker: BrokerAddress, embedded_broker: bool,
                             ready: asyncio.Event | None = None) -> None:
    """Run by the usage runtime as a task: plays until cancelled, never raises. ``ready``
    (the listener's connection) is awaited first, so the first jobs are not missed."""
    if not await decide(embedded_broker):
        return
    devices = await demo_devices()
    if not devices:
        log.warning("demo: none of the demo's machines reports as 'fabbooking demo' set it up; "
                    "no simulated machine plays")
        return
    _playing.set()  # the pages say so from now: the machines they show are the simulated ones
    player, thread = None, None
    try:
        if ready is not None:
            try:
                await asyncio.wait_for(ready.wait(), timeout=30)
            except TimeoutError:
                pass  # the player retries on its own if the broker is not there
        player = DemoPlayer(broker, devices)
        started = threading.Thread(target=player.run, name="demo-live", daemon=True)
        started.start()
        thread = started
        log.info("demo: %d simulated machines play through the broker at %s", len(devices), broker.url)
        await asyncio.Event().wait()  # until the server stops
    finally:
        _playing.clear()
        if player is not None:
            player.stop()
        if thread is not None:
            await asyncio.to_thread(thread.join, STOP_WAIT_S)


def _live_round(seed: str, first: bool, spec, number: int) -> list:
    from devices.sim_plan import plan_live_jobs

    return plan_live_jobs(spec, JOBS_PER_ROUND, f"{seed}:{number}", soon=first and number == 0, pace=PACE)


class DemoPlayer:
    """The simulator, round after round, reconnecting when the broker comes back."""

    def __init__(self, broker: BrokerAddress, devices: list[DemoDevice]) -> None:
        self.broker = broker
        self.devices = devices
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._simulations: list = []

    def run(self) -> None:
        sites = sorted({d.site for d in self.devices})
        threads = [threading.Thread(target=self._play_site, args=(site,), name=f"demo-live-{site}", daemon=True)
                   for site in sites]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            simulations = list(self._simulations)
        for simulation in simulations:
            simulation.close()

    def _play_site(self, site: str) -> None:
        attempt = 0
        while not self._stop.is_set():
            first = attempt == 0  # a server that just started: the first jobs start within seconds
            attempt += 1
            try:
                simulation = self._simulation(site)
                with self._lock:
                    if self._stop.is_set():
                        return
                    self._simulations.append(simulation)
            except Exception:  # noqa: BLE001 - a demo never takes the server down
                log.exception("demo: cannot simulate the machines of %s", site)
                return
            try:
                simulation.play_live(functools.partial(_live_round, f"{site}:{attempt}", first))
            except Exception as exc:  # noqa: BLE001 - a demo never takes the server down
                log.warning("demo: the simulated machines of %s stopped (%s); trying again in %.0f s",
                            site, exc, RETRY_S)
            finally:
                simulation.close()
                with self._lock:
                    self._simulations.remove(simulation)
            self._stop.wait(RETRY_S)

    def _simulation(self, site: str):
        from devices.sim_plan import MachineSpec
        from devices.simulator import Simulation

        here = [d for d in self.devices if d.site == site]
        specs = [MachineSpec(d.machine, d.format, d.device_topic or None, gateway=d.gateway,
                             **SPEC_OPTIONS.get(d.machine, {})) for d in here]
        gateway = next((d.gateway for d in here if d.gateway), "demo")
        return Simulation(self.broker.host, self.broker.port, specs, site=site, gateway=gateway,
                          password=self.broker.password, device_username=self.broker.username,
                          device_password=self.broker.password, tls=self.broker.tls, keep_messages=False)
