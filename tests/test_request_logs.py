"""One log line per request (method, route template, status, duration, request id), the id
returned as X-Request-ID, text or JSON; and never a password, a token, a cookie or a session
id in any line, whatever the request carried."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import httpx
import pytest

from fabbooking.bookings.tables import CalendarFeed
from fabbooking.observability.logs import QUIET_LOGGERS, JsonFormatter, RequestIdFilter, TextFormatter
from tests.browser_support import wait_until_serving
from tests.conftest import PASSWORD, ROOT, free_port, run_cli
from tests.web_helpers import submit

pytestmark = pytest.mark.anyio

# The test's own HTTP client logs the URLs it asks for: not the app's log.
CLIENT_LOGGERS = ("httpx", "httpcore")


def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fabbooking.requests"]


async def test_each_request_is_one_line_with_route_status_duration_and_id(client, world, caplog):
    caplog.set_level(logging.INFO, logger="fabbooking.requests")
    response = await client.get(f"/api/v1/machines/{world.ids['printer']}", headers={"X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    [line] = request_lines(caplog)
    assert (line.method, line.route, line.status, line.request_id) == (
        "GET", "/api/v1/machines/{machine_id}", 200, "trace-42")
    assert line.duration_ms >= 0
    text = TextFormatter().format(line)
    assert "GET /api/v1/machines/{machine_id} 200 " in text and text.endswith(" ms [request trace-42]")
    entry = json.loads(JsonFormatter().format(line))
    assert {k: entry[k] for k in ("logger", "method", "route", "status", "request_id")} == {
        "logger": "fabbooking.requests", "method": "GET", "route": "/api/v1/machines/{machine_id}",
        "status": 200, "request_id": "trace-42"}
    assert isinstance(entry["duration_ms"], float) and entry["time"].endswith("+00:00")


@pytest.mark.parametrize("sent", ["two words", "x" * 200, "é", "<script>", ""])
async def test_a_request_id_that_is_not_plainly_an_id_is_replaced(client, db, caplog, sent):
    caplog.set_level(logging.INFO, logger="fabbooking.requests")
    first = await client.get("/healthz", headers={"X-Request-ID": sent.encode("utf-8")})
    second = await client.get("/healthz")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1] and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert [r.request_id for r in request_lines(caplog)] == ids


async def test_a_page_that_does_not_exist_is_logged_without_its_path(client, db, caplog):
    caplog.set_level(logging.INFO, logger="fabbooking.requests")
    response = await client.get("/calendar/me/" + "s3cr3t" * 8 + ".ics?token=hidden")
    assert response.status_code == 404
    [line] = request_lines(caplog)
    assert line.status == 404 and "s3cr3t" not in line.route and "hidden" not in line.getMessage()


async def test_lines_written_while_answering_carry_the_request_id(client, db, caplog):
    caplog.set_level(logging.INFO)
    seen = []

    def remember(record):
        RequestIdFilter().filter(record)
        seen.append(record)
        return True

    handler = logging.Handler()
    handler.emit = remember
    logging.getLogger("fabbooking.requests").addHandler(handler)
    try:
        response = await client.get("/healthz")
    finally:
        logging.getLogger("fabbooking.requests").removeHandler(handler)
    assert [r.request_id for r in seen] == [response.headers["x-request-id"]]
    outside = logging.LogRecord("fabbooking", logging.INFO, __file__, 1, "between requests", None, None)
    RequestIdFilter().filter(outside)
    assert outside.request_id == "" and "[request" not in TextFormatter().format(outside)


@pytest.fixture
def logging_as_served():
    """The levels ``fabbooking serve`` gives the loggers it keeps quiet (the others: any)."""
    before = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


async def test_no_password_token_cookie_or_session_id_is_ever_logged(client, world, caplog, logging_as_served):
    caplog.set_level(logging.DEBUG)  # everything any other logger would say, far more than production's INFO
    wrong, new = "mauvais-Secret-987", "Nouveau-Secret-2026!"
    # a wrong login, then a right one, with the browser's form
    assert (await submit(client, "/login", {"username": "maker", "password": wrong}, page="/login")).status_code == 401
    assert (await submit(client, "/login", {"username": "maker", "password": PASSWORD}, page="/login")).status_code == 303
    session, csrf_cookie = client.cookies.get("fabbooking_session"), client.cookies.get("fabbooking_csrf")
    # a password-bearing form post, and a private calendar feed (its token is in its address)
    changed = await submit(client, "/me/account/password", {"current": PASSWORD, "new": new, "again": new},
                           page="/me/account")
    assert changed.status_code == 303, changed.text
    assert (await submit(client, "/me/calendar", {}, page="/me/calendar")).status_code == 303
    feed = (await CalendarFeed.select().where(CalendarFeed.account == world.ids["maker"]).first())["token"]
    assert (await client.get(f"/calendar/me/{feed}.ics")).status_code == 200
    # the API: a token for a password, then Bearer calls
    client.cookies.clear()
    issued = await client.post("/api/v1/auth/token", json={"username": "maker", "password": new})
    token = issued.json()["token"]
    assert (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await client.get("/api/v1/users/me", headers=world.auth("animator"))).status_code == 200
    assert (await client.post("/api/v1/auth/token", json={"username": "maker", "password": wrong})).status_code == 401

    secrets = {"password": PASSWORD, "wrong password": wrong, "new password": new, "session": session,
               "csrf cookie": csrf_cookie, "feed token": feed, "API token": token,
               "animator's token": world.tokens["animator"]}
    assert all(secrets.values()), secrets
    records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert len([r for r in records if r.name == "fabbooking.requests"]) >= 12  # the log is on
    for record in records:
        RequestIdFilter().filter(record)
        written = JsonFormatter().format(record) + TextFormatter().format(record) + repr(record.__dict__)
        for what, secret in secrets.items():
            assert secret not in written, f"the {what} is in a line of {record.name}: {written[:500]}"


@pytest.mark.slow
def test_a_served_app_writes_json_lines_without_secrets(tmp_path):
    """The real ``fabbooking serve`` (uvicorn and all) with FABBOOKING_LOG_FORMAT=json."""
    url = f"sqlite:///{tmp_path / 'fabbooking.sqlite3'}"
    run_cli("migrate", url=url)
    run_cli("user", "create", "--username", "yannick", "--password", PASSWORD, "--role", "maker", url=url)
    port = free_port()
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(tmp_path),
           "FABBOOKING_LOG_FORMAT": "json"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "fabbooking", "serve", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process, log)
        with httpx.Client(base_url=base) as http:
            http.get("/login")
            csrf = http.cookies["fabbooking_csrf"]
            logged_in = http.post("/login", data={"_csrf_token": csrf, "username": "yannick", "password": PASSWORD})
            assert logged_in.status_code == 303
            session = http.cookies["fabbooking_session"]
            token = http.post("/api/v1/auth/token", json={"username": "yannick", "password": PASSWORD}).json()["token"]
            me = http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "probe-1"})
            assert me.status_code == 200 and me.headers["x-request-id"] == "probe-1"
            assert http.get("/metrics").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    entries = [json.loads(line) for line in log.read_text().splitlines()]  # every line is one JSON object
    assert any(e["message"].startswith("Fabbooking on http://") for e in entries)
    requests = [e for e in entries if e["logger"] == "fabbooking.requests"]
    assert {"method": "GET", "route": "/api/v1/users/me", "status": 200, "request_id": "probe-1"}.items() \
        <= next(e for e in requests if e["route"] == "/api/v1/users/me").items()
    assert {(e["method"], e["route"], e["status"]) for e in requests} >= {
        ("GET", "/login", 200), ("POST", "/login", 303), ("POST", "/api/v1/auth/token", 201), ("GET", "/metrics", 200)}
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]
    text = log.read_text()
    for secret in (PASSWORD, session, token, csrf):
        assert secret not in text
