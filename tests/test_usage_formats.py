"""What real devices publish, decoded (pure): Tasmota, Shelly Gen2, OctoPrint, Klipper."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats import klipper, octoprint, shelly, tasmota
from fabbooking.usage.formats.signals import message_id

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 14, 9, 12, 40, tzinfo=UTC)  # 10:12:40 in Paris

TASMOTA_SENSOR = json.dumps({"Time": "2026-03-14T10:12:33", "ENERGY": {
    "TotalStartTime": "2025-01-01T00:00:00", "Total": 6.294, "Yesterday": 5.340, "Today": 0.954,
    "Period": 217, "Power": 2635, "ApparentPower": 2650, "ReactivePower": 282, "Factor": 0.99,
    "Voltage": 227, "Current": 11.661}}).encode()


def test_tasmota_sensor_gives_power_energy_and_local_time():
    decoded = tasmota.decode("tele/laser/SENSOR", TASMOTA_SENSOR, {}, NOW, PARIS)
    assert decoded.reading.power_w == 2635 and decoded.reading.energy_wh == 6294.0
    assert decoded.reading.at == datetime(2026, 3, 14, 9, 12, 33, tzinfo=UTC)  # local time, no zone


def test_tasmota_clock_far_off_falls_back_to_arrival_time():
    payload = TASMOTA_SENSOR.replace(b"2026-03-14T10:12:33", b"1970-01-01T00:00:10")
    assert tasmota.decode("tele/laser/SENSOR", payload, {}, NOW, PARIS).reading.at == NOW


def test_tasmota_last_will_and_relay():
    assert tasmota.decode("tele/laser/LWT", b"Offline", {}, NOW, PARIS).online is False
    assert tasmota.decode("tele/laser/LWT", b"Online", {}, NOW, PARIS).online is True
    assert tasmota.decode("stat/laser/POWER", b"OFF", {}, NOW, PARIS).busy is False
    with pytest.raises(PayloadRejected):
        tasmota.decode("tele/laser/LWT", b"Maybe", {}, NOW, PARIS)


def test_shelly_partial_updates_are_laid_over_the_last_full_status():
    state: dict = {}
    full = json.dumps({"id": 0, "source": "init", "output": True, "apower": 1234.5, "voltage": 229.1,
                       "current": 5.4, "aenergy": {"total": 14093.2, "by_minute": [1, 2, 3],
                                                   "minute_ts": 1710410000}, "temperature": {"tC": 41.2}}).encode()
    first = shelly.decode("shellyplug/status/switch:0", full, state, NOW, PARIS)
    assert first.reading.power_w == 1234.5 and first.reading.energy_wh == 14093.2
    partial = json.dumps({"src": "shellyplus", "dst": "x", "method": "NotifyStatus",
                          "params": {"ts": 1710410001.27, "switch:0": {"apower": 0.0}}}).encode()
    second = shelly.decode("shellyplug/events/rpc", partial, state, NOW, PARIS)
    assert second.reading.power_w == 0.0
    assert second.reading.energy_wh == 14093.2  # kept from the full status
    assert second.reading.at == datetime.fromtimestamp(1710410001.27, UTC)
    assert shelly.decode("shellyplug/online", b"false", state, NOW, PARIS).online is False


def octo(event: str, **body) -> tuple[str, bytes]:
    return f"octoPrint/event/{event}", json.dumps({**body, "_event": event}).encode()


def test_octoprint_cancel_fires_two_events_for_one_cancelled_job():
    state: dict = {}
    started = octoprint.decode(*octo("PrintStarted", name="lampe.gcode", path="lampe.gcode", origin="local",
                                     _timestamp=1773480000), state, NOW, PARIS)
    key = started.jobs[0].key
    failed = octoprint.decode(*octo("PrintFailed", name="lampe.gcode", reason="cancelled", time=600,
                                    _timestamp=1773480600), state, NOW, PARIS)
    cancelled = octoprint.decode(*octo("PrintCancelled", name="lampe.gcode", _timestamp=1773480600),
                                 state, NOW, PARIS)
    assert [j.event for j in failed.jobs + cancelled.jobs] == ["job_cancelled", "job_cancelled"]
    assert {j.key for j in failed.jobs + cancelled.jobs} == {key}


def test_octoprint_done_and_error():
    state: dict = {}
    octoprint.decode(*octo("PrintStarted", name="a.gcode", _timestamp=1773480000), state, NOW, PARIS)
    done = octoprint.decode(*octo("PrintDone", name="a.gcode", time=3600.5, _timestamp=1773483600), state, NOW, PARIS)
    assert done.jobs[0].event == "job_finished" and done.jobs[0].duration_s == 3600.5
    octoprint.decode(*octo("PrintStarted", name="b.gcode", _timestamp=1773490000), state, NOW, PARIS)
    failed = octoprint.decode(*octo("PrintFailed", name="b.gcode", reason="error", _timestamp=1773490100),
                              state, NOW, PARIS)
    assert failed.jobs[0].event == "job_failed" and failed.error
    assert octoprint.decode("octoPrint/mqtt", b"disconnected", state, NOW, PARIS).online is False


def klipper_status(**stats) -> bytes:
    return json.dumps({"eventtime": 12345.6, "status": {"print_stats": stats}}).encode()


def test_klipper_state_changes_make_one_job_with_its_outcome():
    state: dict = {}
    assert klipper.decode("k1/klipper/status", klipper_status(state="standby"), state, NOW, PARIS).jobs == []
    start = klipper.decode("k1/klipper/status", klipper_status(state="printing", filename="vase.gcode"),
                           state, NOW, PARIS)
    assert start.jobs[0].event == "job_started" and start.jobs[0].file == "vase.gcode"
    # only changed fields are sent; the filename is remembered
    klipper.decode("k1/klipper/status", klipper_status(print_duration=100.0), state, NOW, PARIS)
    end = klipper.decode("k1/klipper/status", klipper_status(state="complete", print_duration=3000.0,
                                                             filament_used=4200.5), state, NOW, PARIS)
    assert end.jobs[0].event == "job_finished" and end.jobs[0].key == start.jobs[0].key
    assert end.jobs[0].file == "vase.gcode" and end.jobs[0].filament_mm == 4200.5
    assert klipper.decode("k1/moonraker/status", b'{"server": "offline"}', state, NOW, PARIS).online is False


@pytest.mark.parametrize("state_name, outcome", [("error", "job_failed"), ("cancelled", "job_cancelled")])
def test_klipper_failed_and_cancelled(state_name, outcome):
    state: dict = {}
    klipper.decode("k1/klipper/status", klipper_status(state="printing", filename="x"), state, NOW, PARIS)
    assert klipper.decode("k1/klipper/status", klipper_status(state=state_name), state, NOW, PARIS).jobs[0].event == outcome


def test_same_device_message_twice_gets_the_same_id():
    assert message_id("tele/a/SENSOR", TASMOTA_SENSOR) == message_id("tele/a/SENSOR", TASMOTA_SENSOR)
    assert message_id("tele/a/SENSOR", TASMOTA_SENSOR) != message_id("tele/b/SENSOR", TASMOTA_SENSOR)


@pytest.mark.parametrize(("module", "topic"), [
    (tasmota, "tele/x/SENSOR"), (shelly, "p/status/switch:0"), (octoprint, "octoPrint/event/PrintDone"),
    (klipper, "k/klipper/status"),
])
@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b'{"ENERGY": {"Power": "hot"}}', b"\xff\xfe"])
def test_garbage_is_rejected_not_crashing(module, topic, payload):
    try:
        module.decode(topic, payload, {}, NOW, PARIS)
    except PayloadRejected as rejected:
        assert rejected.reason
