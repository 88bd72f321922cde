"""What real devices publish, decoded (pure): Tasmota, Shelly Gen2, OctoPrint, Klipper; and a
few of them recorded, for what a device clock or a full status does to a machine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fabbooking.usage.contract import PayloadRejected
from fabbooking.usage.formats import klipper, octoprint, shelly, tasmota
from fabbooking.usage.formats.signals import message_id
from fabbooking.usage.recording import Incoming, record_batch
from fabbooking.usage.tables import MachineLive, UsageSession
from tests.conftest import make_machine, make_site
from tests.usage_helpers import now, wire_device

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


@pytest.mark.parametrize("local_time", [
    "2026-03-14T10:19:00",  # 6 min 20 s ahead: beyond the contract's 5 minutes
    "5138-11-16T10:46:39",  # far future
    "9999-12-31T23:59:59",  # still ahead once read in Paris and moved to UTC
    "2026-02-11T10:12:33",  # 31 days old: beyond the contract's 30 days
    "0001-01-01T00:30:00",  # before year 1 once moved to UTC
])
def test_tasmota_clock_is_held_to_the_contracts_window(local_time):
    payload = TASMOTA_SENSOR.replace(b"2026-03-14T10:12:33", local_time.encode())
    assert tasmota.decode("tele/laser/SENSOR", payload, {}, NOW, PARIS).reading.at == NOW


def test_tasmota_reading_queued_for_an_hour_keeps_its_own_time():
    """The listener was down: the broker kept the plug's readings, they arrive late but dated."""
    later = NOW + timedelta(hours=1)
    assert tasmota.decode("tele/laser/SENSOR", TASMOTA_SENSOR, {}, later, PARIS).reading.at == \
        datetime(2026, 3, 14, 9, 12, 33, tzinfo=UTC)


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
                          "params": {"ts": 1773479561.27, "switch:0": {"apower": 0.0}}}).encode()
    second = shelly.decode("shellyplug/events/rpc", partial, state, NOW, PARIS)
    assert second.reading.power_w == 0.0
    assert second.reading.energy_wh == 14093.2  # kept from the full status
    assert second.reading.at == datetime.fromtimestamp(1773479561.27, UTC)  # a second after NOW
    assert shelly.decode("shellyplug/online", b"false", state, NOW, PARIS).online is False


# Shelly Plus Plug S, firmware 1.x, on <prefix>/events/rpc after (re)connecting to the broker:
# every component's full status (shelly-api-docs.shelly.cloud, Gen2 "Notifications").
SHELLY_FULL_STATUS = {
    "src": "shellyplusplugs-e86bea1b2c3d", "dst": "shellyplug/events", "method": "NotifyFullStatus",
    "params": {
        "ts": 1773479560.12,  # 2026-03-14T09:12:40Z
        "ble": {}, "cloud": {"connected": True}, "mqtt": {"connected": True}, "plugs_ui": {},
        "switch:0": {"id": 0, "source": "init", "output": True, "apower": 2635.4, "voltage": 229.1,
                     "current": 11.52, "aenergy": {"total": 14093.2, "by_minute": [43917.4, 43880.2, 43902.7],
                                                   "minute_ts": 1773479520},
                     "temperature": {"tC": 41.2, "tF": 106.2}},
        "sys": {"mac": "E86BEA1B2C3D", "restart_required": False, "time": "10:12", "unixtime": 1773479560,
                "uptime": 121, "ram_size": 246376, "ram_free": 142184, "fs_size": 458752, "fs_free": 139264,
                "cfg_rev": 12, "kvs_rev": 0, "schedule_rev": 0, "webhook_rev": 0,
                "available_updates": {}},
        "wifi": {"sta_ip": "192.168.1.42", "status": "got ip", "ssid": "fablab", "rssi": -61},
        "ws": {"connected": False},
    },
}


def shelly_rpc(method: str, ts: float, switch: dict) -> bytes:
    params = dict(SHELLY_FULL_STATUS["params"], ts=ts, **{"switch:0": switch}) if method == "NotifyFullStatus" \
        else {"ts": ts, "switch:0": switch}
    return json.dumps({"src": "shellyplusplugs-e86bea1b2c3d", "dst": "shellyplug/events", "method": method,
                       "params": params}).encode()


def test_shelly_full_status_notification_is_a_reading_like_a_partial_one():
    state: dict = {}
    decoded = shelly.decode("shellyplug/events/rpc", json.dumps(SHELLY_FULL_STATUS).encode(), state, NOW, PARIS)
    assert decoded.online is True
    assert decoded.reading.power_w == 2635.4 and decoded.reading.energy_wh == 14093.2
    assert decoded.reading.at == datetime.fromtimestamp(1773479560.12, UTC)
    # a later partial update is laid over it
    partial = shelly.decode("shellyplug/events/rpc", shelly_rpc("NotifyStatus", 1773479570.5, {"id": 0, "apower": 3.1}),
                            state, NOW, PARIS)
    assert partial.reading.power_w == 3.1 and partial.reading.energy_wh == 14093.2


def test_shelly_full_status_replaces_what_was_known():
    """A full status is the whole truth: a field it no longer carries is not kept from before."""
    state: dict = {}
    shelly.decode("shellyplug/events/rpc", shelly_rpc("NotifyStatus", 1773479500, {"apower": 12.0,
                                                                                    "aenergy": {"total": 99.0}}),
                  state, NOW, PARIS)
    full = shelly.decode("shellyplug/events/rpc", shelly_rpc("NotifyFullStatus", 1773479560, {"id": 0, "apower": 40.0}),
                         state, NOW, PARIS)
    assert full.reading.power_w == 40.0 and full.reading.energy_wh is None


def test_shelly_other_notifications_say_nothing():
    event = {"src": "shellyplusplugs-e86bea1b2c3d", "dst": "shellyplug/events", "method": "NotifyEvent",
             "params": {"ts": 1773479560.12, "events": [{"component": "sys", "event": "scheduled_restart",
                                                         "time_ms": 997, "ts": 1773479560.12}]}}
    assert shelly.decode("shellyplug/events/rpc", json.dumps(event).encode(), {}, NOW, PARIS).reading is None
    wifi_only = {"src": "x", "dst": "y", "method": "NotifyStatus", "params": {"ts": 1773479560.12,
                                                                               "wifi": {"rssi": -70}}}
    assert shelly.decode("shellyplug/events/rpc", json.dumps(wifi_only).encode(), {}, NOW, PARIS).reading is None


# A device clock far from the arrival time: year 5138 (just under 1e11 s), before NTP (a few
# seconds after 1970), a month old, a little ahead; and values datetime cannot hold.
FAR_CLOCKS = [99_999_999_999.0, 1e300, 12.5, 0, -5e12, NOW.timestamp() - 31 * 86400, NOW.timestamp() + 301]


@pytest.mark.parametrize("method", ["NotifyStatus", "NotifyFullStatus"])
@pytest.mark.parametrize("ts", FAR_CLOCKS)
def test_shelly_clock_far_off_is_replaced_by_the_arrival_time(method, ts):
    decoded = shelly.decode("shellyplug/events/rpc", shelly_rpc(method, ts, {"apower": 5.0}), {}, NOW, PARIS)
    assert decoded.reading.at == NOW


@pytest.mark.parametrize("ts", [NOW.timestamp() - 29 * 86400, NOW.timestamp() + 299])
def test_shelly_clock_within_the_contracts_window_is_kept(ts):
    decoded = shelly.decode("shellyplug/events/rpc", shelly_rpc("NotifyStatus", ts, {"apower": 5.0}), {}, NOW, PARIS)
    assert decoded.reading.at == datetime.fromtimestamp(ts, UTC)


@pytest.mark.parametrize("ts", ["1773479560", None, True, [1], float("inf"), float("nan")])
def test_shelly_time_that_is_no_number_is_rejected(ts):
    payload = json.dumps({"method": "NotifyStatus", "params": {"ts": ts, "switch:0": {"apower": 5.0}}}).encode()
    with pytest.raises(PayloadRejected, match="params.ts"):
        shelly.decode("shellyplug/events/rpc", payload, {}, NOW, PARIS)


@pytest.mark.parametrize("field, value", [("apower", float("inf")), ("apower", float("-inf")),
                                          ("aenergy", {"total": float("inf")})])
def test_infinite_readings_are_rejected(field, value):
    """JSON as Python reads it lets Infinity through; no database column or JSON state takes it."""
    with pytest.raises(PayloadRejected):
        shelly.decode("shellyplug/status/switch:0", json.dumps({"apower": 1.0, field: value}).encode(), {}, NOW, PARIS)


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


@pytest.mark.parametrize("timestamp", FAR_CLOCKS)
def test_octoprint_clock_far_off_starts_the_job_at_arrival(timestamp):
    """Year 5138 from a printer's clock started a job that would run "forever" and froze the
    machine; under the contract's clock rule it starts when the message came, and ends."""
    state: dict = {}
    started = octoprint.decode(*octo("PrintStarted", name="a.gcode", path="a.gcode", origin="local", size=1234,
                                     owner="maker", user="maker", _timestamp=timestamp), state, NOW, PARIS)
    job = started.jobs[0]
    assert job.at == job.started_at == NOW and job.key == f"octoprint-{int(NOW.timestamp())}"
    later = NOW + timedelta(minutes=10)
    done = octoprint.decode(*octo("PrintDone", name="a.gcode", path="a.gcode", origin="local", time=600.2,
                                  _timestamp=int(later.timestamp())), state, later, PARIS)
    assert done.jobs[0].event == "job_finished" and done.jobs[0].key == job.key and done.jobs[0].at == later


def test_octoprint_event_queued_by_the_broker_keeps_its_own_time():
    at = NOW - timedelta(hours=3)
    started = octoprint.decode(*octo("PrintStarted", name="a.gcode", _timestamp=int(at.timestamp())), {}, NOW, PARIS)
    assert started.jobs[0].started_at == at


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


# --- recorded: what the people at the desk see ------------------------------------------------

async def _live(machine: int) -> dict:
    return await MachineLive.select().where(MachineLive.machine == machine).first()


@pytest.mark.anyio
async def test_a_job_whose_start_is_only_in_a_shelly_full_status_is_recorded(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "laser", kind="laser_cutter")
    await wire_device(machine, "shelly", "shellyplug", start_w=50, idle_w=20, start_after_s=0, stop_after_s=0)
    at = now()
    full = shelly_rpc("NotifyFullStatus", at.timestamp(), SHELLY_FULL_STATUS["params"]["switch:0"])
    await record_batch([Incoming("shellyplug/events/rpc", full, at)], at)
    session = await UsageSession.select().where(UsageSession.machine == machine).first()
    assert session["outcome"] == "running" and session["started_at"] == at
    assert (await _live(machine))["state"] == "busy"


@pytest.mark.anyio
async def test_a_printer_clock_in_the_year_5138_does_not_freeze_the_machine(db):
    site = await make_site("bellevue")
    machine = await make_machine(site, "mk4")
    await wire_device(machine, "octoprint", "octoPrint")
    start = now() - timedelta(minutes=10)
    started = json.dumps({"name": "a.gcode", "path": "a.gcode", "origin": "local", "_event": "PrintStarted",
                          "_timestamp": 99_999_999_999}).encode()
    await record_batch([Incoming("octoPrint/event/PrintStarted", started, start)], start)
    end = now()
    done = json.dumps({"name": "a.gcode", "path": "a.gcode", "origin": "local", "time": 600.0,
                       "_event": "PrintDone", "_timestamp": int(end.timestamp())}).encode()
    await record_batch([Incoming("octoPrint/event/PrintDone", done, end)], end)
    session = await UsageSession.select().where(UsageSession.machine == machine).first()
    assert session["outcome"] == "completed" and session["started_at"] == start
    assert (await _live(machine))["state"] == "idle"
