"""Against a real `fabbooking serve`: an upload from somebody not signed in is answered
while its sender is still sending — the server did not wait for (nor read) the 60 MB."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests.browser_support import wait_until_serving
from tests.conftest import ROOT, free_port, run_cli

pytestmark = pytest.mark.slow
BODY_BYTES = 60 * 1024 * 1024


def test_an_anonymous_upload_is_answered_before_its_body_is_sent(tmp_path):
    url = f"sqlite:///{tmp_path / 'fabbooking.sqlite3'}"
    run_cli("migrate", url=url)
    run_cli("user", "create", "--username", "maiwenn", "--password", "secret123", "--role", "maker", url=url)
    token = run_cli("token", "create", "--username", "maiwenn", url=url).stdout.strip().split()[-1]
    port = free_port()
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(tmp_path)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "fabbooking", "serve", "--port", str(port), "--no-listener"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process, log)
        created = httpx.post(f"{base}/api/v1/projects", json={"title": "Lampe"},
                             headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(
                f"POST /api/v1/projects/{created.json()['slug']}/media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: multipart/form-data; boundary=edge\r\nContent-Length: {BODY_BYTES}\r\n\r\n".encode())
            connection.sendall(b'--edge\r\nContent-Disposition: form-data; name="file"; filename="big.stl"\r\n'
                               b"\r\n" + b"\0" * 65536)  # a well-formed start: the first 64 KB of 60 MB
            answer = connection.recv(4096)  # comes while 59.9 MB are still to be sent
        assert answer.startswith(b"HTTP/1.1 401"), answer  # without the gate: no answer, a timeout
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
