"""``fabbooking serve --workers N``: N web processes share the port, and the background jobs
(the usage listener with its embedded broker, the no-show sweeper) run once, in one
``fabbooking worker`` beside them; stopping ``serve`` stops them all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.browser_support import wait_until_serving
from tests.conftest import ROOT, free_port, run_cli

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _descendants(pid: int) -> list[int]:
    result = []
    for child in _children(pid):
        result += [child, *_descendants(child)]
    return result


def _wait_for_broker(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # polling interval
    raise AssertionError(f"no broker on port {port} within {timeout}s")


def _wait_for_log(log, ready, process: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text()
        if ready(text):
            return text
        time.sleep(0.1)  # polling interval
    raise AssertionError(f"not in the log within {timeout}s:\n{log.read_text()}")


def test_several_web_processes_and_one_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'fabbooking.sqlite3'}"
    run_cli("migrate", url=url)
    port, mqtt_port = free_port(), free_port()
    # the listener on (the suite turns it off for the servers other tests start)
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(tmp_path),
           "FABBOOKING_LISTENER": "on"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fabbooking", "serve", "--port", str(port), "--mqtt-port", str(mqtt_port),
             "--workers", "2"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process, log)
        with httpx.Client() as http:
            assert all(http.get(f"{base}/").status_code == 200 for _ in range(20))
            # each web process, once started, keeps what it made out of the collector's full passes
            frozen = re.search(r"^fabbooking_gc_frozen_objects (\S+)$", http.get(f"{base}/metrics").text, re.M)
            assert frozen and float(frozen.group(1)) > 50_000, frozen
        _wait_for_broker(mqtt_port, process)  # the worker's embedded broker takes the gateways' connections
        text = _wait_for_log(log, lambda t: t.count("Application startup complete") == 2, process)
        assert len(set(re.findall(r"Started server process \[(\d+)\]", text))) == 2, text
        assert text.count("embedded MQTT broker on") == 1, "the broker (and the listener) run once"
        assert "Traceback" not in text, text
        family = _descendants(process.pid)
        assert len(family) >= 3  # two web processes and the worker (and multiprocessing's helper)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    # multiprocessing's resource tracker leaves a moment after its parent: poll, don't race
    deadline = time.monotonic() + 15
    while (left := _alive(family)) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling interval
    assert left == [], f"processes left behind: {[_command(pid) for pid in left]}"


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                if "zombie" not in status.read().lower():
                    alive.append(pid)
        except FileNotFoundError:
            pass
    return alive


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")[:200]
    except FileNotFoundError:
        return f"{pid} (gone)"


def test_workers_must_be_a_sensible_number(tmp_path):
    result = run_cli("serve", "--workers", "0", url=f"sqlite:///{tmp_path / 'x.sqlite3'}", check=False)
    assert result.returncode == 2 and "1 to 64" in result.stderr


@pytest.mark.parametrize("command", ["worker", "listen"])
def test_worker_and_listener_stop_cleanly_on_sigterm(tmp_path, mosquitto, command):
    """systemd (and serve --workers) stop them with SIGTERM: they finish what they hold,
    disconnect and close the database, and end with exit code 0 — not killed midway."""
    url = f"sqlite:///{tmp_path / 'fabbooking.sqlite3'}"
    run_cli("migrate", url=url)
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(tmp_path),
           "FABBOOKING_MQTT_URL": mosquitto.url, "FABBOOKING_LISTENER": "on"}
    log = tmp_path / f"{command}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "fabbooking", command], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = "background jobs every" if command == "worker" else "Listening for machine usage"
        _wait_for_log(log, lambda text: ready in text, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = log.read_text()
    assert process.returncode == 0, text
    assert "SIGTERM: stopping" in text and "Traceback" not in text, text
