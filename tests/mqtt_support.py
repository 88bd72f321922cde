"""A real Mosquitto for the tests: started on a free port with its own configuration
(persistence on, no limit on queued messages), restartable, stopped at the end."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, missing_service

CONFIG = """\
# Started as root, Mosquitto would switch to the 'mosquitto' user, which cannot write in the
# test's folder: it would then keep nothing across a restart. Stay who we are.
user {user}
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {folder}/
autosave_interval 1
# Mosquitto silently drops QoS 1 messages beyond max_queued_messages (default 1000) for an
# offline persistent session: the listener may be down while thousands of events arrive.
max_queued_messages 0
max_inflight_messages 0
log_dest file {folder}/mosquitto.log
"""



def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Mosquitto:
    folder: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.folder / "mosquitto.conf"
        conf.write_text(CONFIG.format(port=self.port, folder=self.folder, user=getpass.getuser()))
        self.process = subprocess.Popen([shutil.which("mosquitto"), "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.folder / "mosquitto.log"
                raise AssertionError(f"mosquitto did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Mosquitto writes its persistence file first
            self.process.wait(timeout=20)

    def restart(self) -> None:
        self.stop()
        assert (self.folder / "mosquitto.db").exists(), "Mosquitto kept nothing on disk"
        self.start()


@pytest.fixture
def mosquitto(tmp_path):
    if shutil.which("mosquitto") is None:
        missing_service("Mosquitto is not installed (apt-get install mosquitto)")
    broker = Mosquitto(tmp_path / "broker", free_port())
    broker.folder.mkdir()
    broker.start()
    yield broker
    broker.stop()
