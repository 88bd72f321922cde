"""The deploy kit (deploy/) is checked by the tools that own its formats, as Debian installs
them: nginx runs the site, Mosquitto runs the broker configuration, systemd-analyze verifies
the units. Under CI=true a missing tool is a failure (.ci/run installs them)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from fabbooking.projects import media
from fabbooking.settings import load_settings
from fabbooking.usage.mosquitto import acl_file, password_file, password_hash
from tests.conftest import ROOT, free_port
from tests.deploy_support import (
    DEBIAN_MOSQUITTO_CONF,
    DEPLOY,
    MOSQUITTO_ACL,
    MOSQUITTO_CERTIFICATE,
    MOSQUITTO_KEY,
    MOSQUITTO_PASSWORDS,
    NGINX_CACHE,
    NGINX_CERTIFICATE,
    NGINX_KEY,
    rewrite,
    self_signed_certificate,
    stop,
    tool,
    upstream,
    wait_for_ports,
)

UNITS = ["fabbooking-serve.service", "fabbooking-worker.service"]
ENV_EXAMPLE = DEPLOY / "fabbooking.env.example"
SITE = DEPLOY / "nginx-fabbooking.conf"
HOST = "fabbooking.example.org"


def env_example() -> dict[str, str]:
    """The settings the example sets (systemd's EnvironmentFile format: NAME=value)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=\S+", line), f"not NAME=value: {line!r}"
            name, _, value = line.partition("=")
            values[name] = value
    return values


def unit_values(unit: str, key: str) -> list[str]:
    return [line.partition("=")[2] for line in (DEPLOY / unit).read_text().splitlines()
            if line.startswith(f"{key}=")]


# --- the example environment file ---------------------------------------------------------

def test_env_example_names_every_setting_the_app_reads() -> None:
    read = set(re.findall(r"FABBOOKING_[A-Z0-9_]+", (ROOT / "fabbooking/settings.py").read_text()))
    table = (ROOT / "README.md").read_text().partition("## Configuration")[2].partition("\n## ")[0]
    documented = set(re.findall(r"`(FABBOOKING_[A-Z0-9_]+)`", table))
    listed = set(re.findall(r"^#?(FABBOOKING_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert read | documented <= listed, f"missing from {ENV_EXAMPLE.name}: {sorted((read | documented) - listed)}"


def test_env_example_passes_the_apps_own_settings_check(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env_example().items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.database.kind == "postgres"
    assert settings.https


def test_units_let_the_app_write_its_var_and_media_folders() -> None:
    """ProtectSystem=strict makes everything else read-only: an upload would fail."""
    env = env_example()
    for unit in UNITS:
        writable = unit_values(unit, "ReadWritePaths") + [
            f"/var/lib/{name}" for name in unit_values(unit, "StateDirectory")]
        assert unit_values(unit, "ProtectSystem") == ["strict"]
        assert unit_values(unit, "EnvironmentFile") == ["/etc/fabbooking/fabbooking.env"]
        for setting in ("FABBOOKING_VAR_DIR", "FABBOOKING_MEDIA_DIR"):
            assert any(Path(env[setting]).is_relative_to(path) for path in writable), (unit, setting)


# --- systemd ------------------------------------------------------------------------------

def units_in(folder: Path) -> list[Path]:
    """The units with ExecStart pointing at this checkout's fabbooking (verify checks it exists)."""
    paths = []
    for unit in UNITS:
        path = folder / unit
        path.write_text(rewrite((DEPLOY / unit).read_text(),
                                {"/opt/fabbooking/venv/bin/fabbooking": str(ROOT / ".venv/bin/fabbooking")}))
        paths.append(path)
    return paths


def test_systemd_units_verify_without_a_warning(tmp_path: Path) -> None:
    """systemd-analyze verify reads the files offline (no running systemd needed, so it runs
    in a container too); it exits 0 on an unknown or misspelt directive and only warns,
    hence the check that it says nothing."""
    analyze = tool("systemd-analyze", "systemd")
    result = subprocess.run([analyze, "verify", "--man=no", *map(str, units_in(tmp_path))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == "", result.stderr + result.stdout


def test_systemd_units_are_hardened(tmp_path: Path) -> None:
    """systemd's own review of the sandboxing: exposure at most 2.0 of 10 (the units score 1.3;
    without ProtectSystem=strict and the rest they would be 9.2, UNSAFE)."""
    analyze = tool("systemd-analyze", "systemd")
    for unit in units_in(tmp_path):
        result = subprocess.run([analyze, "security", "--offline=true", "--threshold=20", "--no-pager",
                                 str(unit)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout[-600:] + result.stderr


def test_serve_listens_where_nginx_sends() -> None:
    (start,) = unit_values("fabbooking-serve.service", "ExecStart")
    port = re.search(r"--port (\d+)", start).group(1)
    assert "--host 127.0.0.1" in start
    assert re.search(rf"^\s*server 127\.0\.0\.1:{port};", SITE.read_text(), re.MULTILINE)


# --- nginx --------------------------------------------------------------------------------

def nginx_folder(folder: Path, listen: dict[str, str] | None = None, upstream_port: int | None = None) -> Path:
    """A minimal nginx.conf around the site, everything nginx writes kept in the folder."""
    cert, key = self_signed_certificate(folder, HOST)
    replacements = {NGINX_CERTIFICATE: str(cert), NGINX_KEY: str(key), NGINX_CACHE: str(folder / "cache"),
                    **(listen or {})}
    if upstream_port:
        replacements["server 127.0.0.1:8000;"] = f"server 127.0.0.1:{upstream_port};"
    (folder / "site.conf").write_text(rewrite(SITE.read_text(), replacements))
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\nhttp {{\n{temp}\n"
        f"    log_format cache '$request_uri $upstream_cache_status';\n"
        f"    access_log {folder}/access.log cache;\n    include {folder}/site.conf;\n}}\n")
    return folder / "nginx.conf"


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    nginx = tool("nginx", "nginx")
    conf = nginx_folder(tmp_path)
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines()
                if "[warn]" in line and '"listen ... http2" directive is deprecated' not in line]
    assert warnings == []


def test_client_max_body_size_is_the_apps_upload_limit() -> None:
    size = re.search(r"client_max_body_size (\d+)m;", SITE.read_text()).group(1)
    assert int(size) * 1024 * 1024 == media.MAX_REQUEST_BYTES


@pytest.fixture
def proxy(tmp_path: Path):
    """nginx serving the site on free ports, in front of a stand-in for the app."""
    nginx = tool("nginx", "nginx")
    http_port, https_port = free_port(), free_port()
    listen = {"    listen 80;": f"    listen 127.0.0.1:{http_port};", "    listen [::]:80;\n": "",
              "    listen 443 ssl http2;": f"    listen 127.0.0.1:{https_port} ssl http2;",
              "    listen [::]:443 ssl http2;\n": ""}
    with upstream() as app:
        conf = nginx_folder(tmp_path, listen, app.port)
        process = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf),
                                    "-g", "daemon off; master_process off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_ports(process, [http_port, https_port], tmp_path / "error.log")
            yield http_port, https_port, app
        finally:
            stop(process)


def tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
    return context


def get(port: int, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=tls(), timeout=10)
    connection.request("GET", path, headers={"Host": HOST, "X-Forwarded-For": "6.6.6.6"})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def test_nginx_redirects_http_to_https_and_speaks_http2(proxy) -> None:
    http_port, https_port, _ = proxy
    plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    plain.request("GET", "/machines/2?week=1", headers={"Host": HOST})
    response = plain.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/machines/2?week=1"

    context = tls()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=HOST) as secured:
            assert secured.selected_alpn_protocol() == "h2"


def test_nginx_tells_the_app_who_asked_and_how(proxy) -> None:
    _, https_port, _ = proxy
    response = get(https_port, "/login")
    received = json.loads(response.body)["headers"]
    # the client's own X-Forwarded-For is not believed: it would let anyone dodge login throttling
    assert received["x-forwarded-for"] == "127.0.0.1"
    assert received["x-forwarded-proto"] == "https"
    assert received["x-forwarded-host"] == HOST and received["host"] == HOST
    assert response.getheader("Strict-Transport-Security") == "max-age=63072000"
    assert response.getheader("Set-Cookie"), "pages keep the app's CSRF cookie"


@pytest.mark.parametrize("path", ["/static/app.css", "/calendar/sites/papifab-bellevue.ics",
                                  "/calendar/machines/2.ics"])
def test_nginx_keeps_a_shared_copy_without_anybodys_cookie(proxy, path: str) -> None:
    _, https_port, app = proxy
    first, second = get(https_port, path), get(https_port, path)
    assert first.status == second.status == 200
    assert second.body == first.body  # type: ignore[attr-defined]
    assert app.seen[path] == 1, "the second request reached the app"
    assert first.getheader("Set-Cookie") is None and second.getheader("Set-Cookie") is None


@pytest.mark.parametrize("path", ["/calendar/me/s3cret.ics", "/open-data", "/",
                                  "/open-data/monthly.csv?site=papifab-bellevue"])
def test_nginx_never_shares_private_feeds_or_pages(proxy, path: str) -> None:
    _, https_port, app = proxy
    first, second = get(https_port, path), get(https_port, path)
    assert first.status == second.status == 200
    assert app.seen[path] == 2


def test_nginx_refuses_a_body_over_the_apps_upload_limit(proxy) -> None:
    _, https_port, app = proxy
    connection = http.client.HTTPSConnection("127.0.0.1", https_port, context=tls(), timeout=10)
    connection.putrequest("POST", "/projects/nichoir/steps/new", skip_host=True)
    connection.putheader("Host", HOST)
    connection.putheader("Content-Length", str(media.MAX_REQUEST_BYTES + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    assert app.seen == {}


# --- Mosquitto ----------------------------------------------------------------------------

LISTENER_PASSWORD = "listener-secret"
GATEWAY, GATEWAY_PASSWORD, SITE_SLUG = "gw-bellevue", "gateway-secret", "papifab-bellevue"


@pytest.fixture
def broker(tmp_path: Path):
    """Debian's mosquitto.conf including the kit's file from conf.d, paths in the test folder,
    and the password file and ACL put together as docs/operations.md says."""
    mosquitto = tool("mosquitto", "mosquitto")
    cert, key = self_signed_certificate(tmp_path)
    plain_port, tls_port = free_port(), free_port()
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "persistence").mkdir()
    local = f"fabbooking:{password_hash(LISTENER_PASSWORD)}\n"
    gateways = password_file({GATEWAY: password_hash(GATEWAY_PASSWORD)})
    (tmp_path / "fabbooking.passwd").write_text(local + gateways)
    (tmp_path / "fabbooking.acl").write_text(acl_file([(SITE_SLUG, GATEWAY)]))
    (tmp_path / "conf.d/fabbooking.conf").write_text(rewrite((DEPLOY / "mosquitto-fabbooking.conf").read_text(), {
        MOSQUITTO_PASSWORDS: str(tmp_path / "fabbooking.passwd"), MOSQUITTO_ACL: str(tmp_path / "fabbooking.acl"),
        MOSQUITTO_CERTIFICATE: str(cert), MOSQUITTO_KEY: str(key),
        "\nlistener 1883 127.0.0.1\n": f"\nlistener {plain_port} 127.0.0.1\n",
        "\nlistener 8883\n": f"\nlistener {tls_port} 127.0.0.1\n",
    }))
    import getpass

    (tmp_path / "mosquitto.conf").write_text(rewrite(DEBIAN_MOSQUITTO_CONF, {
        "/run/mosquitto/mosquitto.pid": str(tmp_path / "mosquitto.pid"),
        "/var/lib/mosquitto/": f"{tmp_path}/persistence/",
        "/var/log/mosquitto/mosquitto.log": str(tmp_path / "mosquitto.log"),
        "/etc/mosquitto/conf.d": str(tmp_path / "conf.d"),
    }) + f"# root would switch to the mosquitto user, who cannot read the test's folder\nuser {getpass.getuser()}\n")
    process = subprocess.Popen([mosquitto, "-c", str(tmp_path / "mosquitto.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_ports(process, [plain_port, tls_port], tmp_path / "mosquitto.log")
        yield plain_port, tls_port, cert, process, tmp_path
    finally:
        stop(process)


def connect(port: int, user: str, password: str, cafile: Path | None = None) -> tuple[mqtt.Client, object]:
    """A connected MQTT v5 client (loop running) and the CONNACK's reason code."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    if cafile:
        client.tls_set(ca_certs=str(cafile))
    answered = threading.Event()
    result: dict[str, object] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        result["code"] = reason_code
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert answered.wait(10), "no CONNACK"
    return client, result["code"]


def test_mosquitto_refuses_a_wrong_password(broker) -> None:
    plain_port, _, _, _, _ = broker
    client, code = connect(plain_port, "fabbooking", "not-the-password")
    client.loop_stop()
    assert code.is_failure and code == "Not authorized"  # type: ignore[attr-defined]


def test_gateway_reports_over_tls_and_writes_only_its_own_branch(broker) -> None:
    plain_port, tls_port, cert, process, folder = broker
    listener, code = connect(plain_port, "fabbooking", LISTENER_PASSWORD)
    assert not code.is_failure  # type: ignore[attr-defined]
    received: list[str] = []
    arrived, subscribed = threading.Event(), threading.Event()
    listener.on_message = lambda client, userdata, message: (received.append(message.topic), arrived.set())
    listener.on_subscribe = lambda *args: subscribed.set()
    listener.subscribe("fablab/v1/#", qos=1)
    assert subscribed.wait(10)

    gateway, code = connect(tls_port, GATEWAY, GATEWAY_PASSWORD, cafile=cert)
    assert not code.is_failure  # type: ignore[attr-defined]
    other = f"fablab/v1/{SITE_SLUG}/gw-somebody-else/events"
    own = f"fablab/v1/{SITE_SLUG}/{GATEWAY}/events"
    gateway.publish(other, b"{}", qos=1).wait_for_publish(10)
    gateway.publish(own, b"{}", qos=1).wait_for_publish(10)
    assert arrived.wait(10)
    for client in (gateway, listener):
        client.disconnect()
        client.loop_stop()
    assert received == [own]

    stop(process)
    assert (folder / "persistence/mosquitto.db").exists(), "persistence is off or cannot write"
