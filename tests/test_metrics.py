"""/metrics: real counters move after real requests, bookings and MQTT messages; only this
machine and the networks FABBOOKING_METRICS_ALLOW names may read them."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fabbooking.app import create_app
from fabbooking.observability.endpoint import may_read_metrics
from fabbooking.observability.metrics import reason_kind
from fabbooking.usage import listener as listener_module
from fabbooking.usage.tables import UsageSession
from tests.browser_support import wait_until_serving
from tests.conftest import ROOT, booking_body, free_port, make_machine, make_site, run_cli
from tests.usage_helpers import (
    Publisher,
    contract_event,
    eventually,
    listening,  # noqa: F401 - the listener fixture
    now,
    topic,
    wire_gateway,
)

pytestmark = pytest.mark.anyio


async def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_never_by_path(client, world):
    before = await scrape(client)
    for machine in ("printer", "laser", "far_printer"):
        assert (await client.get(f"/api/v1/machines/{world.ids[machine]}")).status_code == 200
    assert (await client.get("/api/v1/machines/999999")).status_code == 404
    assert (await client.get("/no/such/page")).status_code == 404
    after = await scrape(client)
    route = "/api/v1/machines/{machine_id}"
    assert value(after, "fabbooking_http_requests_total", method="GET", route=route, status="200") \
        - value(before, "fabbooking_http_requests_total", method="GET", route=route, status="200") == 3
    assert value(after, "fabbooking_http_requests_total", method="GET", route=route, status="404") \
        - value(before, "fabbooking_http_requests_total", method="GET", route=route, status="404") == 1
    assert value(after, "fabbooking_http_request_duration_seconds_count", method="GET", route=route) \
        - value(before, "fabbooking_http_request_duration_seconds_count", method="GET", route=route) == 4
    unmatched = dict(method="GET", route="(unmatched)", status="404")
    assert value(after, "fabbooking_http_requests_total", **unmatched) \
        - value(before, "fabbooking_http_requests_total", **unmatched) == 1
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any(re.search(r"/machines/\d", r) or "/no/such" in r for r in routes), routes


async def test_a_method_nobody_uses_is_counted_as_other_and_answered_405(client, world):
    """Any word can be sent as a method; it is counted under OTHER (it recursed without end: a 500)."""
    before = await scrape(client)
    for method in ("TRACE", "BREW"):
        response = await client.request(method, "/api/v1/trainings")
        assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
        assert set(response.headers["allow"].split(", ")) == {"GET", "OPTIONS", "POST"}
    after = await scrape(client)
    def others(samples) -> float:
        return sum(v for (name, labels), v in samples.items()
                   if name == "fabbooking_http_requests_total" and ("method", "OTHER") in labels)
    assert others(after) - others(before) == 2


async def test_bookings_made_and_refused_are_counted_by_code(client, world):
    before = await scrape(client)
    body = booking_body(world.ids["printer"], days_ahead=3)
    assert (await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))).status_code == 201
    assert (await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))).status_code == 409
    refused = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"], days_ahead=4),
                                headers=world.auth("newbie"))
    assert refused.json()["code"] == "not_qualified"
    after = await scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fabbooking_bookings_created_total", purpose="maker") == 1
    assert moved("fabbooking_bookings_refused_total", code="overlap") == 1
    assert moved("fabbooking_bookings_refused_total", code="not_qualified") == 1


async def test_the_database_pool_is_shown(client, db):
    samples = await scrape(client)
    largest = value(samples, "fabbooking_db_pool_max_connections")
    in_use = value(samples, "fabbooking_db_pool_connections", state="in_use")
    idle = value(samples, "fabbooking_db_pool_connections", state="idle")
    assert largest == (8 if db.kind == "sqlite" else 4)  # the tests' PostgreSQL pool opens 4
    assert 0 <= in_use and 0 <= idle and in_use + idle <= largest


async def test_mqtt_messages_recorded_and_dead_lettered_are_counted_with_batches_and_lag(client, db, mosquitto,
                                                                                           listening):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    before = await scrape(client)
    publisher = Publisher(mosquitto.port)
    publisher.send(topic("bellevue", "gw-1", "prusa-mini"), b"{not json")
    publisher.send(topic("bellevue", "intruder", "prusa-mini"), contract_event("job_started", "a", now()))
    publisher.send(topic("bellevue", "gw-1", "prusa-mini"), contract_event("job_started", "ok-1", now()))
    publisher.close()
    await eventually(lambda: UsageSession.count().where(UsageSession.job_key == "ok-1"))

    async def all_counted():
        after = await scrape(client)
        return after if value(after, "fabbooking_mqtt_messages_recorded_total") \
            - value(before, "fabbooking_mqtt_messages_recorded_total") >= 1 else None

    after = await eventually(all_counted)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fabbooking_mqtt_messages_recorded_total") == 1
    assert moved("fabbooking_mqtt_messages_dead_lettered_total", reason="not_json") == 1
    assert moved("fabbooking_mqtt_messages_dead_lettered_total", reason="unknown_gateway") == 1
    assert moved("fabbooking_mqtt_batch_size_sum") == 3
    assert moved("fabbooking_mqtt_batch_size_count") >= 1

    async def nothing_waits():  # the lag is also set every second, maybe while the batch waited
        return value(await scrape(client), "fabbooking_mqtt_listener_lag_seconds") == 0

    assert await eventually(nothing_waits, timeout=10)


async def test_listener_lag_grows_while_a_batch_waits_for_the_database(client, db, mosquitto, listening,
                                                                       monkeypatch):
    site = await make_site("bellevue")
    machine = await make_machine(site, "prusa-mini")
    await wire_gateway(site, "gw-1", machine)
    database_back = asyncio.Event()
    real_record_batch = listener_module.record_batch

    async def slow_database(*args):
        await database_back.wait()
        return await real_record_batch(*args)

    monkeypatch.setattr(listener_module, "record_batch", slow_database)
    publisher = Publisher(mosquitto.port)
    publisher.send(topic("bellevue", "gw-1", "prusa-mini"), contract_event("job_started", "held", now()))
    publisher.close()

    async def lagging():
        return value(await scrape(client), "fabbooking_mqtt_listener_lag_seconds") > 0

    await eventually(lagging)
    database_back.set()
    await eventually(lambda: UsageSession.count().where(UsageSession.job_key == "held"))

    async def caught_up():
        return value(await scrape(client), "fabbooking_mqtt_listener_lag_seconds") == 0

    await eventually(caught_up)


# --- who may read them ------------------------------------------------------------------

async def _status_from(app, address: str) -> int:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        return (await other.get("/metrics")).status_code


async def test_metrics_are_not_found_from_other_machines_by_default(app):
    assert await _status_from(app, "127.0.0.1") == 200
    assert await _status_from(app, "::1") == 200
    assert await _status_from(app, "203.0.113.7") == 404
    assert await _status_from(app, "192.168.1.5") == 404


async def test_the_setting_lets_named_networks_read_metrics(monkeypatch):
    monkeypatch.setenv("FABBOOKING_METRICS_ALLOW", "10.0.0.0/8, 192.168.1.5")
    app = create_app(use_pool=False, run_usage=False)
    assert await _status_from(app, "10.20.30.40") == 200
    assert await _status_from(app, "192.168.1.5") == 200
    assert await _status_from(app, "192.168.1.6") == 404
    assert await _status_from(app, "127.0.0.1") == 200


@pytest.mark.parametrize(("host", "allowed", "may"), [
    ("127.0.0.1", "", True), ("127.8.9.10", "", True), ("::1", "", True), ("::ffff:127.0.0.1", "", True),
    ("10.1.1.1", "", False), ("testclient", "", False), (None, "", False), ("", "10.0.0.0/8", False),
    ("::ffff:10.1.1.1", "10.0.0.0/8", True), ("2001:db8::5", "2001:db8::/32", True),
    ("10.1.1.1", "2001:db8::/32", False),
])
def test_who_may_read_metrics(host, allowed, may):
    networks = [ipaddress.ip_network(n) for n in allowed.split(",") if n]
    assert may_read_metrics(host, networks) is may


@pytest.mark.parametrize(("reason", "kind"), [
    ("not JSON: Expecting value", "not_json"),
    ("unknown gateway 'x'; register it with 'fabbooking gateway create'", "unknown_gateway"),
    ("unknown gateway 'x' at site 'y'", "unknown_gateway"),
    ("gateway 'gw' belongs to site 'a', not 'b'", "wrong_site"),
    ("gateway 'gw' does not serve machine 'laser'", "machine_not_served"),
    ("no machine is set to listen to this topic", "no_route"),
    ("payload too large (100000 bytes, at most 65536)", "too_large"),
    ("ts is 3 days in the future; check the gateway's clock", "clock"),
    ("internal error: ValueError: boom", "internal_error"),
    ("job must be an object", "invalid_payload"),
    (json.dumps({"any": "text"}), "invalid_payload"),
])
def test_dead_letter_reasons_are_a_few_kinds(reason, kind):
    assert reason_kind(reason) == kind


# --- serve --workers N: one set of figures for all its processes ----------------------------

def _scrape_sync(http: httpx.Client) -> dict[tuple[str, frozenset], float]:
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


@pytest.mark.slow
def test_several_web_processes_and_their_worker_answer_one_set_of_figures(tmp_path):
    """Whichever web process answers /metrics, it counts the requests all of them answered,
    and what the listener in the background worker recorded."""
    url = f"sqlite:///{tmp_path / 'fabbooking.sqlite3'}"
    run_cli("migrate", url=url)
    port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(tmp_path),
           "FABBOOKING_LISTENER": "on", "TMPDIR": str(tmp_path)}  # where serve keeps the counts
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fabbooking", "serve", "--port", str(port), "--mqtt-port", str(mqtt_port),
             "--workers", "2"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process, log)
        with httpx.Client(base_url=base) as http:
            before = _scrape_sync(http)
            healthz = dict(method="GET", route="/healthz", status="200")
            for _ in range(30):
                assert http.get("/healthz", headers={"Connection": "close"}).status_code == 200
            for _ in range(6):  # new connections: each may reach either process
                with httpx.Client(base_url=base) as fresh:
                    samples = _scrape_sync(fresh)
                assert value(samples, "fabbooking_http_requests_total", **healthz) \
                    - value(before, "fabbooking_http_requests_total", **healthz) >= 30
            _wait_for_port(mqtt_port, process)
            publisher = Publisher(mqtt_port)
            publisher.send(topic("nowhere", "gw-x", "printer"), b"{not json")
            publisher.close()
            deadline = time.monotonic() + 30
            while value(_scrape_sync(http), "fabbooking_mqtt_messages_dead_lettered_total",
                        reason="unknown_gateway") < 1:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)  # polling interval
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()
    assert not list(tmp_path.glob("fabbooking-metrics-*")), "serve removes its counts when it stops"


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # polling interval
    raise AssertionError(f"no broker on port {port} within {timeout}s")
