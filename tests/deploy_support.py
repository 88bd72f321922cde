"""Helpers for tests/test_deploy_kit.py: the kit's files with their absolute paths moved into
a test folder, a self-signed certificate, and a stand-in for the app behind nginx."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import ROOT, missing_service

DEPLOY = ROOT / "deploy"

# The kit's placeholders for files a real server has and a test folder has not.
NGINX_CERTIFICATE = "/etc/letsencrypt/live/fabbooking.example.org/fullchain.pem"
NGINX_KEY = "/etc/letsencrypt/live/fabbooking.example.org/privkey.pem"
NGINX_CACHE = "/var/cache/nginx/fabbooking"
MOSQUITTO_CERTIFICATE = "/etc/mosquitto/certs/fullchain.pem"
MOSQUITTO_KEY = "/etc/mosquitto/certs/privkey.pem"
MOSQUITTO_PASSWORDS = "/etc/mosquitto/fabbooking.passwd"
MOSQUITTO_ACL = "/etc/mosquitto/fabbooking.acl"

# Debian's /etc/mosquitto/mosquitto.conf as the package installs it: the kit's file is a
# drop-in for its conf.d/, and must not repeat what this one sets.
DEBIAN_MOSQUITTO_CONF = """\
pid_file /run/mosquitto/mosquitto.pid

persistence true
persistence_location /var/lib/mosquitto/

log_dest file /var/log/mosquitto/mosquitto.log

include_dir /etc/mosquitto/conf.d
"""


def tool(name: str, package: str) -> str:
    """The path of a Debian tool; missing: a failure under CI=true (.ci/run installs it), a skip elsewhere."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        missing_service(f"{name} is not installed (apt-get install {package})")
    return path  # type: ignore[return-value]


def rewrite(text: str, replacements: dict[str, str]) -> str:
    """Replace each placeholder, which must be there: a kit that changed shape fails here
    rather than being checked with its real paths."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the file: update tests/deploy_support.py"
        text = text.replace(old, new)
    return text


def self_signed_certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    openssl = tool("openssl", "openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_ports(process: subprocess.Popen, ports: list[int], log: Path) -> None:
    deadline = time.monotonic() + 20
    while not all(port_open(port) for port in ports):
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stderr.read().decode() if process.stderr and process.poll() is not None else ""
            raise AssertionError(f"did not start on {ports}: {output}{log.read_text() if log.exists() else ''}")
        time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- a stand-in for `fabbooking serve` behind nginx ---------------------------------------

# The headers that matter to the proxy, as the app sends them (checked against the app by
# hand: every answer sets the CSRF cookie; Cache-Control as in fabbooking/web/routes.py,
# fabbooking/figures/pages.py and docs/calendar-feeds.md).
CACHE_CONTROL = {
    "/static/": "max-age=604800, public",
    "/open-data/": "no-cache",
    "/calendar/sites/": "public, max-age=300",
    "/calendar/machines/": "public, max-age=300",
    "/calendar/me/": "private, max-age=300",
}


@dataclass
class Upstream:
    """Answers every request with the headers it received (JSON) and counts requests by path."""

    port: int
    seen: dict[str, int] = field(default_factory=dict)


@contextmanager
def upstream() -> Iterator[Upstream]:
    state = Upstream(port=0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            with lock:
                state.seen[self.path] = state.seen.get(self.path, 0) + 1
                count = state.seen[self.path]
            body = json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                               "count": count}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Set-Cookie", f"fabbooking_csrf=token-{count}; HttpOnly; Path=/; SameSite=lax")
            for prefix, value in CACHE_CONTROL.items():
                if self.path.startswith(prefix):
                    self.send_header("Cache-Control", value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
