"""The MQTT contract v1 (pure): topics, payloads, and what is rejected and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabbooking.usage.contract import (
    MAX_AGE,
    MAX_CLOCK_AHEAD,
    Job,
    Material,
    PayloadRejected,
    UsageEvent,
    build_event,
    clock_problem,
    event_topic,
    parse_event,
    parse_status,
    parse_topic,
    status_topic,
)

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)


def test_topics_round_trip():
    address = parse_topic(event_topic("bellevue", "gw-1", "prusa-mini"))
    assert (address.site, address.gateway, address.machine) == ("bellevue", "gw-1", "prusa-mini")
    status = parse_topic(status_topic("bellevue", "gw-1"))
    assert status.is_status and status.machine is None


@pytest.mark.parametrize("topic", [
    "fablab/v2/a/b/c/event", "fablab/v1/a/b/c/other", "fablab/v1/A/b/c/event", "fablab/v1/a/+/c/event",
    "fablab/v1/a/b/c/d/event", "tele/plug/SENSOR", "fablab/v1//b/status",
])
def test_foreign_or_malformed_topics_are_not_ours(topic):
    assert parse_topic(topic) is None


def test_event_round_trips_through_json():
    event = UsageEvent("m-1", NOW, "job_finished",
                       Job("j-1", file="clé.gcode", started_at=NOW - timedelta(hours=1), duration_s=3600,
                           material=Material("PLA", grams=12.5)), energy_wh=81.2, replay=True)
    assert parse_event(build_event(event), NOW) == event


@pytest.mark.parametrize(("payload", "reason"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "object"),
    (json.dumps({"v": 2, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "heartbeat"}).encode(), "version"),
    (json.dumps({"v": 1, "ts": "2027-03-10T09:00:00Z", "event": "heartbeat"}).encode(), "msg_id"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "explode"}).encode(), "unknown event"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-10T09:00:00", "event": "heartbeat"}).encode(), "timezone"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-11T09:00:00Z", "event": "heartbeat"}).encode(), "future"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2020-03-11T09:00:00Z", "event": "heartbeat"}).encode(), "too old"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "job_started"}).encode(), "needs a job"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "job_started",
                 "job": {"key": ""}}).encode(), "job.key"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "heartbeat",
                 "energy_wh": "lots"}).encode(), "energy_wh"),
    (json.dumps({"v": 1, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "heartbeat",
                 "energy_wh": -3}).encode(), "energy_wh"),
    (b"{" + b" " * 20000 + b"}", "too large"),
])
def test_broken_events_are_rejected_with_a_reason(payload, reason):
    with pytest.raises(PayloadRejected) as rejected:
        parse_event(payload, NOW)
    assert reason in rejected.value.reason


@pytest.mark.parametrize("version", [True, 1.0, "1", [1], {"major": 1}, False, 0])
def test_version_is_the_integer_one_not_something_python_finds_equal(version):
    """``true == 1`` and ``1.0 == 1`` in Python: neither is contract version 1."""
    body = {"v": version, "msg_id": "a", "ts": "2027-03-10T09:00:00Z", "event": "heartbeat"}
    with pytest.raises(PayloadRejected, match="version"):
        parse_event(json.dumps(body).encode(), NOW)
    assert parse_event(json.dumps(dict(body, v=1)).encode(), NOW).event == "heartbeat"


@pytest.mark.parametrize(("ts", "reason"), [
    (NOW + MAX_CLOCK_AHEAD, None), (NOW + MAX_CLOCK_AHEAD + timedelta(seconds=1), "in the future"),
    (NOW - MAX_AGE, None), (NOW - MAX_AGE - timedelta(seconds=1), "too old"),
    (datetime(5138, 11, 16, 9, 46, 39, tzinfo=UTC), "in the future"), (datetime(1970, 1, 1, tzinfo=UTC), "too old"),
])
def test_one_clock_window_for_every_message(ts, reason):
    """The rule devices are held to as well (``clock_problem``): at most 5 min ahead, 30 days old."""
    problem = clock_problem(ts, NOW)
    assert (problem is None) if reason is None else (reason in problem)
    body = json.dumps({"v": 1, "msg_id": "a", "ts": ts.isoformat(), "event": "heartbeat"}).encode()
    if reason is None:
        assert parse_event(body, NOW).ts == ts
    else:
        with pytest.raises(PayloadRejected, match=f"ts is {reason}.*check the gateway's clock"):
            parse_event(body, NOW)


@pytest.mark.parametrize("bad_id", ["a\x00b", "\ud800", "tab\there"])
def test_ids_a_database_could_not_store_are_rejected(bad_id):
    for body in ({"v": 1, "msg_id": bad_id, "ts": "2027-03-10T09:00:00Z", "event": "heartbeat"},
                 {"v": 1, "msg_id": "ok", "ts": "2027-03-10T09:00:00Z", "event": "job_started", "job": {"key": bad_id}}):
        with pytest.raises(PayloadRejected) as rejected:
            parse_event(json.dumps(body).encode(), NOW)
        assert "printable" in rejected.value.reason


def test_gateway_status():
    assert parse_status(b'{"state": "lost"}') == "lost"
    with pytest.raises(PayloadRejected):
        parse_status(b'{"state": "sleepy"}')


IDS = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=64)

events = st.builds(
    UsageEvent,
    msg_id=IDS,
    ts=st.datetimes(min_value=datetime(2027, 3, 1), max_value=datetime(2027, 3, 10, 9, 4),
                    timezones=st.just(UTC)),
    event=st.sampled_from(["job_started", "job_finished", "job_failed", "job_cancelled"]),
    job=st.builds(Job, key=IDS, file=st.none() | st.text(max_size=100),
                  duration_s=st.none() | st.floats(min_value=0, max_value=1e6),
                  material=st.none() | st.builds(Material, kind=st.text(max_size=30),
                                                 grams=st.none() | st.floats(min_value=0, max_value=1e5))),
    energy_wh=st.none() | st.floats(min_value=0, max_value=1e6),
    replay=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(events)
def test_any_valid_event_survives_build_then_parse(event):
    assert parse_event(build_event(event), NOW) == event


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode)
       | st.dictionaries(st.text(max_size=10), st.none() | st.integers() | st.text(max_size=10)).map(
           lambda d: json.dumps({"v": 1, **d}).encode()))
def test_parser_never_crashes_it_accepts_or_rejects(payload):
    try:
        parse_event(payload, NOW)
    except PayloadRejected as rejected:
        assert rejected.reason
