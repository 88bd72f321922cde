"""The ``fabbooking`` command as a person at a terminal uses it: real subprocesses, real
databases (SQLite and PostgreSQL through the ``db`` fixture), messages read on stderr."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from piccolo.apps.migrations.tables import Migration

from fabbooking.accounts.identify import viewer_for_token
from fabbooking.accounts.services import check_login, find_account
from fabbooking.accounts.tables import Account, ApiToken
from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Machine, OpeningPeriod, Site, Staff
from fabbooking.training.tables import Qualification, Training
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    ROOT,
    _postgres_reachable,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    make_site,
    missing_service,
    postgres_url,
    run_blocking,
    run_cli,
)

pytestmark = pytest.mark.anyio

ENGLISH = {"LANG": "en_US.UTF-8"}
UNUSED_SQLITE = "sqlite:////nonexistent-folder-never-opened/x.sqlite3"


def fails_cleanly(result: subprocess.CompletedProcess, *, code: int | None = None) -> str:
    """The command failed with a message, not a Python traceback; return its stderr."""
    assert result.returncode != 0, result.stdout
    if code is not None:
        assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip(), "a failing command must say why"
    return result.stderr


async def counts() -> dict[str, int]:
    tables = [Site, OpeningPeriod, Machine, Training, Qualification, Account, Staff, Booking]
    return {t._meta.tablename: await t.count() for t in tables}



# --- migrate and demo -----------------------------------------------------------------

async def test_migrate_twice_changes_nothing(db):
    await make_site("atelier")
    applied = await Migration.count()
    assert applied > 0
    for _ in range(2):
        result = run_cli("migrate", url=db.url)
        assert result.returncode == 0
        assert "Traceback" not in result.stderr
    assert await Migration.count() == applied
    assert await Site.count() == 1  # data survives
    assert await Site.exists().where(Site.slug == "atelier")


async def test_demo_loads_a_network_once(db):
    result = run_cli("demo", url=db.url)
    assert "Demo network ready" in result.stdout
    first = await counts()
    assert first["site"] == 4
    assert first["machine"] >= 8
    assert first["training"] >= 2
    assert first["qualification"] > 0
    assert first["account"] >= 8
    assert first["staff"] >= 4
    assert first["booking"] > 0
    assert await check_login("maiwenn", "fabbooking", "test") > 0

    again = run_cli("demo", url=db.url)
    assert "(0 new)" in again.stdout and "0 new bookings" in again.stdout
    assert await counts() == first


# --- user create ------------------------------------------------------------------------

async def test_user_create_maker_without_email_can_log_in(db):
    result = run_cli("user", "create", "--username", "Morgane", "--password", "secret123",
                     "--role", "maker", "--name", "Morgane L.", url=db.url)
    assert "created maker morgane" in result.stdout
    account = await find_account("morgane")
    assert account is not None
    assert account.role == "maker" and account.email is None
    assert account.display_name == "Morgane L."
    assert await Account.login("morgane", "secret123") == account.id
    assert await check_login("morgane", "secret123", "test") == account.id
    assert await Account.login("morgane", "wrong-password") is None


async def test_user_create_animator_works_at_sites(db):
    atelier = await make_site("atelier")
    ailleurs = await make_site("ailleurs")
    await make_site("autre")
    run_cli("user", "create", "--username", "gwen", "--password", "secret123",
            "--role", "animator", "--email", "Gwen@Example.org",
            "--site", "atelier", "--site", "ailleurs", url=db.url)
    account = await find_account("gwen")
    assert account.role == "animator" and account.email == "gwen@example.org"
    rows = await Staff.select(Staff.site).where(Staff.account == account.id)
    assert sorted(r["site"] for r in rows) == sorted([atelier, ailleurs])


async def test_user_create_admin(db):
    run_cli("user", "create", "--username", "boss", "--password", "secret123",
            "--role", "admin", url=db.url)
    account = await find_account("boss")
    assert account.role == "admin" and account.admin


async def test_user_create_refuses_a_duplicate_username(db):
    args = ("user", "create", "--password", "secret123", "--role", "maker")
    run_cli(*args, "--username", "yann", url=db.url)
    for name in ("yann", "YANN"):
        result = run_cli(*args, "--username", name, url=db.url, check=False, extra_env=ENGLISH)
        stderr = fails_cleanly(result)
        assert "yann" in stderr and "already taken" in stderr
    assert await Account.count() == 1


async def test_user_create_refuses_a_short_password(db):
    result = run_cli("user", "create", "--username", "lea", "--password", "abc",
                     "--role", "maker", url=db.url, check=False, extra_env=ENGLISH)
    stderr = fails_cleanly(result)
    assert "at least 6 characters" in stderr
    assert await Account.count() == 0


async def test_user_create_refuses_an_unknown_site(db):
    await make_site("atelier")
    result = run_cli("user", "create", "--username", "samir", "--password", "secret123",
                     "--role", "animator", "--site", "atelier", "--site", "nowhere",
                     url=db.url, check=False, extra_env=ENGLISH)
    stderr = fails_cleanly(result)
    assert "nowhere" in stderr
    assert await Account.count() == 0
    assert await Staff.count() == 0


# --- token create -----------------------------------------------------------------------

async def test_token_create_prints_a_working_token(db):
    run_cli("user", "create", "--username", "karim", "--password", "secret123",
            "--role", "maker", url=db.url)
    result = run_cli("token", "create", "--username", "Karim", url=db.url)
    token = result.stdout.strip()
    assert token and "\n" not in token
    account = await find_account("karim")
    assert (await viewer_for_token(token)).account_id == account.id
    assert await viewer_for_token(token + "x") is None
    second = run_cli("token", "create", "--username", "karim", url=db.url).stdout.strip()
    assert second != token and (await viewer_for_token(second)).account_id == account.id


async def test_token_create_for_unknown_username(db):
    result = run_cli("token", "create", "--username", "nobody", url=db.url, check=False)
    stderr = fails_cleanly(result)
    assert "nobody" in stderr and "user create" in stderr
    assert await ApiToken.count() == 0


# --- configuration and connection problems ---------------------------------------------

@pytest.mark.parametrize(("env", "says"), [
    ({"FABBOOKING_DATABASE_URL": "mysql://x"}, "FABBOOKING_DATABASE_URL"),
    ({"FABBOOKING_DATABASE_URL": "sqlite:///"}, "no file path"),
    ({"FABBOOKING_SECRET_KEY": "short"}, "FABBOOKING_SECRET_KEY is too short"),
    ({"FABBOOKING_MQTT_URL": "http://x"}, "FABBOOKING_MQTT_URL"),
    ({"FABBOOKING_OPEN_DATA_MIN_COUNT": "zero"}, "FABBOOKING_OPEN_DATA_MIN_COUNT='zero' is not understood"),
    ({"FABBOOKING_METRICS_ALLOW": "10.0.0.0/8,lan"}, "FABBOOKING_METRICS_ALLOW: 'lan' is not an address or a network"),
    ({"FABBOOKING_LOG_FORMAT": "xml"}, "FABBOOKING_LOG_FORMAT='xml' is not understood. Use text"),
    ({"FABBOOKING_SMTP_URL": "mail.example.org:587"}, "must start with smtp:// or smtps://"),
    ({"FABBOOKING_SMTP_URL": "smtp://u:hunter2@mail.example.org:five"}, "its port is not a number"),
    ({"FABBOOKING_MAIL_FROM": "Fabbooking"}, "FABBOOKING_MAIL_FROM='Fabbooking' is not an e-mail address"),
], ids=["mysql", "sqlite-no-path", "short-secret", "http-mqtt", "open-data-threshold", "metrics-allow", "log-format",
        "smtp-scheme", "smtp-port", "mail-from"])
@pytest.mark.parametrize("command", [("migrate",), ("token", "create", "--username", "x")],
                         ids=["migrate", "token"])
def test_bad_configuration_is_explained(tmp_path, env, says, command):
    url = f"sqlite:///{tmp_path}/config.sqlite3"
    result = run_cli(*command, url=url, check=False, extra_env=env)
    stderr = fails_cleanly(result, code=2)
    assert "configuration error" in stderr and says in stderr


@pytest.mark.parametrize("command", [("migrate",), ("demo",),
                                     ("token", "create", "--username", "x")])
def test_unreachable_postgres_is_explained(command):
    result = run_cli(*command, url="postgresql://postgres@127.0.0.1:1/nope", check=False)
    stderr = fails_cleanly(result)
    assert "cannot reach the database" in stderr and "127.0.0.1:1" in stderr


def test_sqlite_file_that_cannot_be_opened_is_explained(tmp_path):
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    result = run_cli("migrate", url=f"sqlite:///{folder}", check=False)
    assert "cannot open the SQLite database" in fails_cleanly(result)


async def test_unmigrated_database_says_to_migrate(db, tmp_path):
    if db.kind == "sqlite":
        url, name = f"sqlite:///{tmp_path}/empty.sqlite3", None
    else:
        name = create_postgres_database()
        url = postgres_url(name)
    try:
        for command in (("token", "create", "--username", "x"),
                        ("user", "create", "--username", "xy", "--password", "secret123",
                         "--role", "maker")):
            result = run_cli(*command, url=url, check=False)
            assert "run 'fabbooking migrate' first" in fails_cleanly(result)
        run_cli("migrate", url=url)
        run_cli("user", "create", "--username", "xy", "--password", "secret123",
                "--role", "maker", url=url)
    finally:
        if name:
            drop_postgres_database(name)


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["postgres@127.0.0.1:5432/fabbooking_no_such_database",
                                   "no_such_role@127.0.0.1:5432/postgres"])
def test_postgres_that_refuses_us_is_explained(where):
    if run_blocking(_postgres_reachable(POSTGRES_ADMIN_URL)):
        missing_service("PostgreSQL is not reachable")
    result = run_cli("migrate", url=f"postgresql://{where}", check=False)
    stderr = fails_cleanly(result)
    assert "does not exist" in stderr and "FABBOOKING_DATABASE_URL" in stderr


# --- serve ------------------------------------------------------------------------------

def test_serve_on_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--host", "127.0.0.1", "--port", str(port),
                         url=f"sqlite:///{tmp_path}/serve.sqlite3", check=False, timeout=60)
    stderr = fails_cleanly(result)
    assert f"127.0.0.1:{port}" in stderr and "--port" in stderr


@pytest.mark.slow
def test_serve_really_serves(tmp_path):
    port = free_port()
    env = {**os.environ, "FABBOOKING_DATABASE_URL": f"sqlite:///{tmp_path}/served.sqlite3"}
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "fabbooking", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"serve exited early:\n{_read(log)}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"serve never answered:\n{_read(log)}"
            time.sleep(0.1)  # poll interval, not a wait for readiness

        sites = httpx.get(f"{base}/api/v1/sites", timeout=10)
        assert sites.status_code == 200
        assert sites.headers["content-type"].startswith("application/json")
        assert isinstance(sites.json(), (list, dict))

        schema = httpx.get(f"{base}/schema/openapi.json", timeout=10)
        assert schema.status_code == 200
        assert any(path.startswith("/api/v1/bookings") for path in schema.json()["paths"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def _read(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


# --- bad arguments ----------------------------------------------------------------------

@pytest.mark.parametrize(("args", "says"), [
    (("user", "create", "--username", "xy", "--password", "secret123", "--role", "wizard"),
     "invalid choice: 'wizard'"),
    (("serve", "--port", "99999"), "99999 is not a port number"),
    (("serve", "--port", "http"), "is not a port number"),
    (("user", "create", "--username", "x"), "required"),
    (("launch",), "invalid choice"),
    ((), "required"),
])
def test_bad_arguments_show_usage(args, says):
    result = run_cli(*args, url=UNUSED_SQLITE, check=False)
    stderr = fails_cleanly(result, code=2)
    assert stderr.startswith("usage: fabbooking") and says in stderr


def test_listen_takes_its_client_id_from_the_environment_as_serve_does(monkeypatch):
    from fabbooking.cli.main import _parser, listen_client_id

    def client_id(*argv: str) -> str:
        return listen_client_id(_parser().parse_args(["listen", *argv]))

    assert client_id() == "fabbooking-listener"
    monkeypatch.setenv("FABBOOKING_MQTT_CLIENT_ID", "listener-ponant")
    assert client_id() == "listener-ponant"
    assert client_id("--client-id", "x") == "x"
    # with --partition, one session per share: the host-wide variable would give them all one
    assert client_id("--partition", "2/3") == "fabbooking-listener-2-of-3"
    assert client_id("--partition", "2/3", "--client-id", "x") == "x"


# --- machine telemetry: a device topic names one device --------------------------------------

@pytest.mark.parametrize(("device_topic", "says"), [
    ("lab/#", "MQTT wildcard #: give the exact topic of one device"),
    ("a+b", "MQTT wildcard +: give the exact topic of one device"),
    ("plug\x01", "control"), ("plug/", "ends with /"),
])
async def test_machine_telemetry_refuses_a_device_topic_that_is_not_one_device(db, device_topic, says):
    from fabbooking.usage.tables import Telemetry

    site = await make_site("bellevue")
    machine = (await Machine.insert(Machine(site=site, slug="laser", name="Laser", kind="laser_cutter"))
               .returning(Machine.id))[0]["id"]
    result = run_cli("machine", "telemetry", "--machine", str(machine), "--format", "tasmota",
                     "--device-topic", device_topic, url=db.url, check=False, extra_env=ENGLISH)
    stderr = fails_cleanly(result, code=2)
    assert "argument --device-topic" in stderr and says in stderr, stderr
    assert await Telemetry.count() == 0
    saved = run_cli("machine", "telemetry", "--machine", "bellevue/laser", "--format", "tasmota",
                    "--device-topic", "tasmota_laser", url=db.url, extra_env=ENGLISH)
    assert "device topic tasmota_laser" in saved.stdout


async def test_mqtt_acl_leaves_out_a_bad_device_topic_found_in_the_database(db):
    from fabbooking.usage.tables import Telemetry

    site = await make_site("bellevue")
    for slug, device_topic in (("laser", "tasmota_laser"), ("cnc", "lab/#")):
        machine = (await Machine.insert(Machine(site=site, slug=slug, name=slug, kind="laser_cutter"))
                   .returning(Machine.id))[0]["id"]
        await Telemetry.insert(Telemetry(machine=machine, format="tasmota", device_topic=device_topic))
    acl = run_cli("mqtt", "acl", url=db.url).stdout
    assert "topic read tele/tasmota_laser/SENSOR" in acl and "lab/#" not in acl
