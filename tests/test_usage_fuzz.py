"""Malformed messages between valid events, sent to a live listener through a real Mosquitto
(Hypothesis draws each batch): every valid event is recorded, every invalid message — gateway
event or device message (Tasmota, Shelly, OctoPrint, Klipper) — is in the dead letters with its
reason (never an "internal error"), a repeated event changes nothing, a valid message of every
format sent right after is recorded, and the listener is still running at the end.

One test per database: Hypothesis runs its examples inside it, against the same database,
broker and listener, so every example uses its own msg_ids and job keys, and compares what
it finds with what it sent (dead letters by id above those already there).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabbooking.network.tables import Machine
from fabbooking.usage.broker_url import broker_address
from fabbooking.usage.contract import EVENTS, JOB_EVENTS, MAX_PAYLOAD_BYTES, event_topic
from fabbooking.usage.formats import klipper
from fabbooking.usage.formats.signals import message_id
from fabbooking.usage.listener import UsageListener
from fabbooking.usage.sessions import ENDINGS
from fabbooking.usage.tables import DeadLetter, ReceivedMessage, UsageSession
from tests.conftest import make_machine, make_site
from tests.usage_helpers import Publisher, eventually, wire_device, wire_gateway

pytestmark = pytest.mark.anyio

SITE, GATEWAY, MACHINE = "bellevue", "gw-1", "prusa-mini"
PARIS = ZoneInfo("Europe/Paris")  # the site's timezone: Tasmota's Time is local
GOOD_TOPIC = event_topic(SITE, GATEWAY, MACHINE)
# machine slug, format, device topic: one machine per device format, beside the gateway's
DEVICES = [("laser", "tasmota", "fuzz-plug"), ("fraiseuse", "shelly", "fuzz-shelly"),
           ("mk4", "octoprint", "fuzz-octoprint"), ("voron", "klipper", "fuzz-klipper")]


# --- what is sent, and what must come of it --------------------------------------------

@dataclass
class Message:
    topic: str
    payload: bytes
    valid: bool
    hint: str = ""  # invalid: a part of the dead letter's reason
    msg_id: str = ""  # valid: recorded as gw:<gateway>:<msg_id>
    job_key: str = ""  # valid job event: its session
    event: str = ""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


NOW = datetime.now(UTC)  # at import: valid moments keep a day of margin, broken ones too
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
numbers = st.one_of(st.integers(0, 10**12), st.floats(0, 1e12, allow_nan=False))
# any text, with NUL and lone surrogates ("\u0000", "\ud800" in JSON) among the characters
texts = st.text(st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff"])), max_size=300)
bad_ids = st.one_of(st.just(""), st.text(min_size=129, max_size=400))


@st.composite
def valid_body(draw) -> dict:
    """A valid event as the contract describes it; msg_id and job key are set later."""
    event = draw(st.sampled_from(EVENTS))
    ts = NOW - timedelta(seconds=draw(st.integers(0, 28 * 86400)))
    body: dict = {"v": 1, "msg_id": None, "ts": iso(ts.astimezone(draw(offsets))), "event": event}
    if event in JOB_EVENTS or draw(st.booleans()):
        job: dict = {"key": None}
        if draw(st.booleans()):
            job["file"] = draw(texts)
        if draw(st.booleans()):  # the contract puts no bound on it
            job["started_at"] = draw(st.one_of(
                st.integers(0, 28 * 86400).map(lambda s: iso(ts - timedelta(seconds=s))),
                st.datetimes(timezones=st.just(UTC)).map(iso)))
        if draw(st.booleans()):
            job["duration_s"] = draw(numbers)
        if draw(st.booleans()):
            job["material"] = {"kind": draw(texts),
                               **draw(st.fixed_dictionaries({}, optional={"grams": numbers, "length_mm": numbers}))}
        body["job"] = job
    if draw(st.booleans()):
        body["energy_wh"] = draw(numbers)
    if draw(st.booleans()):
        body["replay"] = draw(st.booleans())
    return body


not_a_string = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
not_a_number = st.one_of(st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                         st.integers(max_value=-1), st.floats(max_value=-1e-9), st.floats(min_value=1.01e12),
                         st.just(float("nan")), st.just(float("inf")))


def _not_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return True
    return False


@st.composite
def far_moment(draw) -> str:
    """An ISO moment far from now: years 1–9999 with any offset, or just out of the window."""
    kind = draw(st.sampled_from(["future", "past", "extreme"]))
    if kind == "future":
        moment = NOW + timedelta(days=1) + timedelta(seconds=draw(st.integers(0, 300 * 365 * 86400)))
    elif kind == "past":
        moment = NOW - timedelta(days=32) - timedelta(seconds=draw(st.integers(0, 300 * 365 * 86400)))
    else:
        moment = datetime(draw(st.sampled_from([1, 2, 9998, 9999])), draw(st.integers(1, 12)), 1, tzinfo=UTC)
        moment = moment.replace(day=draw(st.integers(1, 28)), hour=draw(st.integers(0, 23)))
        return moment.replace(tzinfo=draw(offsets)).isoformat()
    return iso(moment.astimezone(draw(offsets)))


overflowing = st.one_of(  # valid ISO, but no UTC moment: year 0 or 10000
    st.integers(1, 14).map(lambda h: f"0001-01-01T00:00:00+{h:02d}:00"),
    st.integers(1, 12).map(lambda h: f"9999-12-31T23:30:00-{h:02d}:00"))
malformed_moment = st.one_of(texts.filter(_not_iso), overflowing,
                             st.datetimes().map(lambda d: d.isoformat()))  # no timezone
bad_moment = st.one_of(not_a_string, malformed_moment, far_moment())  # ts: also out of the window

# (how to break a valid body, the reason it must get)
BREAKS = {
    "v": (st.one_of(st.none(), st.integers().filter(lambda n: n != 1), st.text(max_size=5), st.just(2.5),
                    st.booleans(), st.just(1.0)), "contract version"),
    "msg_id": (st.one_of(not_a_string, bad_ids), "msg_id"),
    "event": (st.one_of(not_a_string, st.text(max_size=20).filter(lambda e: e not in EVENTS)), "event"),
    "ts": (bad_moment, "ts"),
    "energy_wh": (not_a_number, "energy_wh"),
    "replay": (st.one_of(st.none(), st.integers(), st.text(max_size=3)), "replay"),
    "job": (st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.booleans()), "job"),
    "job.key": (st.one_of(not_a_string, bad_ids), "job.key"),
    "job.file": (st.one_of(st.booleans(), st.integers(), st.lists(st.integers(), max_size=2)), "job.file"),
    # the contract bounds ts, not job.started_at: a far one is valid (and tried in valid_body)
    "job.started_at": (st.one_of(not_a_string.filter(lambda v: v is not None), malformed_moment), "job.started_at"),
    "job.duration_s": (not_a_number, "job.duration_s"),
    "job.material": (st.one_of(st.integers(), st.text(max_size=5), st.just({}), st.just({"kind": 3})), "job.material"),
    "job.material.grams": (not_a_number, "job.material.grams"),
}


@st.composite
def broken_event(draw) -> tuple[dict, str, str]:
    """A valid event with one field broken: (body, the broken field, reason hint)."""
    body = draw(valid_body())
    field = draw(st.sampled_from(sorted(BREAKS)))
    values, hint = BREAKS[field]
    value = draw(values)
    if field.startswith("job.") or field == "job":
        job = body.get("job") or {"key": None}
        if field == "job":
            body["job"] = value
        elif field == "job.material.grams":
            job["material"] = {"kind": "PLA", "grams": value}
        else:
            job[field.removeprefix("job.")] = value
        if field != "job":
            body["job"] = job
    else:
        body[field] = value
    return body, field, hint


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def _not_an_object(payload: bytes) -> bool:
    try:
        return not isinstance(json.loads(payload), dict)
    except ValueError:
        return True


device_not_a_number = st.one_of(st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                                st.none(), st.just(float("nan")), st.just(float("inf")), st.just(float("-inf")))
# (topic, a JSON body with one field broken, the reason's hint), by device format
DEVICE_BREAKS = {
    "tasmota": lambda v: ("tele/fuzz-plug/SENSOR", {"Time": "", "ENERGY": {"Power": v, "Total": 1.0}}, "ENERGY.Power"),
    "shelly": lambda v: ("fuzz-shelly/events/rpc", {"src": "shellyplusplugs-fuzz", "dst": "fuzz-shelly/events",
                                                    "method": "NotifyStatus",
                                                    "params": {"ts": v, "switch:0": {"apower": 3.0}}}, "params.ts"),
    "shelly-status": lambda v: ("fuzz-shelly/status/switch:0", {"id": 0, "output": True, "apower": v}, "apower"),
    "octoprint": lambda v: ("fuzz-octoprint/event/PrintStarted", {"name": "a.gcode", "path": "a.gcode",
                                                                   "origin": "local", "_timestamp": v}, "_timestamp"),
    "klipper": lambda v: ("fuzz-klipper/klipper/status", {"eventtime": 1.0, "status": {"print_stats": {
        "state": v, "filename": "a.gcode"}}}, "print_stats.state"),
}
DEVICE_DATA_TOPICS = ["tele/fuzz-plug/SENSOR", "fuzz-shelly/events/rpc", "fuzz-shelly/status/switch:0",
                      "fuzz-octoprint/event/PrintDone", "fuzz-klipper/klipper/status"]
DEVICE_STATE_TOPICS = [("tele/fuzz-plug/LWT", "LWT"), ("fuzz-shelly/online", "online"),
                       ("fuzz-octoprint/mqtt", "mqtt"), ("fuzz-klipper/moonraker/status", "")]


@st.composite
def device_garbage(draw) -> tuple[str, bytes, str]:
    """A malformed device message: (topic, payload, a part of its dead letter's reason)."""
    kind = draw(st.sampled_from(["bytes", "not_object", "deep", "too_large", "field", "state"]))
    if kind == "bytes":
        return draw(st.sampled_from(DEVICE_DATA_TOPICS)), draw(st.binary(max_size=200).filter(_not_an_object)), "JSON"
    if kind == "not_object":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return draw(st.sampled_from(DEVICE_DATA_TOPICS)), json.dumps(value).encode(), "JSON"
    if kind == "deep":
        depth = draw(st.integers(2_000, 5_000))
        return draw(st.sampled_from(DEVICE_DATA_TOPICS)), (draw(st.sampled_from(["[", '{"a":'])) * depth).encode(), "nested"
    if kind == "too_large":
        pad = draw(st.integers(64 * 1024 + 1, 3 * 64 * 1024))
        return draw(st.sampled_from(DEVICE_DATA_TOPICS)), json.dumps({"pad": "x" * pad}).encode(), "too large"
    if kind == "state":
        topic, hint = draw(st.sampled_from(DEVICE_STATE_TOPICS))
        text = draw(st.text(max_size=20).filter(lambda t: t.strip() not in ("true", "false", "Online", "Offline",
                                                                           "connected", "disconnected")))
        if topic.endswith("/moonraker/status"):
            return topic, json.dumps({"server": text}).encode(), "server"
        return topic, text.encode("utf-8", "surrogatepass"), hint
    fmt = draw(st.sampled_from(sorted(DEVICE_BREAKS)))
    value = draw(device_not_a_number.filter(lambda v: v not in klipper.STATES))
    topic, body, hint = DEVICE_BREAKS[fmt](value)
    return topic, json.dumps(body).encode(), hint


@st.composite
def message_plan(draw):
    """One message to send, before ids are filled in: (kind, detail)."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "duplicate", "bytes", "json", "deep", "huge_number",
                                 "broken", "broken", "broken", "too_large", "topic", "device", "device"]))
    if kind == "device":
        return kind, draw(device_garbage())
    if kind == "valid":
        return kind, draw(valid_body())
    if kind == "bytes":
        return kind, draw(st.binary(max_size=200))
    if kind == "json":
        return kind, json.dumps(draw(json_values)).encode()
    if kind == "deep":
        depth = draw(st.integers(2_000, 5_000))
        return kind, (draw(st.sampled_from(["[", '{"a":'])) * depth).encode()
    if kind == "huge_number":
        field = draw(st.sampled_from(["energy_wh", "v", "ts"]))
        return kind, field
    if kind == "broken":
        return kind, draw(broken_event())
    if kind == "too_large":
        return kind, draw(st.integers(MAX_PAYLOAD_BYTES + 1, 3 * MAX_PAYLOAD_BYTES))
    if kind == "topic":
        return kind, draw(st.sampled_from([
            (event_topic(SITE, "intruder", MACHINE), "unknown gateway"),
            (event_topic("ailleurs", GATEWAY, MACHINE), "belongs to site"),
            (event_topic(SITE, GATEWAY, "laser"), "does not serve"),
            (event_topic(SITE, GATEWAY, "Prusa"), "no machine is set to listen"),
            (event_topic(SITE, GATEWAY, "x" * 65), "no machine is set to listen")]))
    return kind, None


def build(plans: list, run: str) -> list[Message]:
    """Fill in distinct msg_ids and job keys; turn plans into messages and expectations."""
    messages: list[Message] = []
    for n, (kind, detail) in enumerate(plans):
        msg_id, key = f"{run}-{n}", f"{run}-job-{n}"
        if kind == "valid":
            body = dict(detail, msg_id=msg_id)
            if "job" in body:
                body["job"] = dict(body["job"], key=key)
            messages.append(Message(GOOD_TOPIC, json.dumps(body).encode(), True, msg_id=msg_id,
                                    job_key=key if "job" in body else "", event=body["event"]))
        elif kind == "duplicate":
            earlier = [m for m in messages if m.valid]
            if earlier:
                messages.append(Message(GOOD_TOPIC, earlier[-1].payload, True, msg_id=earlier[-1].msg_id,
                                        job_key=earlier[-1].job_key, event=earlier[-1].event))
        elif kind in ("bytes", "json", "deep"):
            messages.append(Message(GOOD_TOPIC, detail, False))
        elif kind == "huge_number":
            body = {"v": 1, "msg_id": msg_id, "ts": iso(NOW), "event": "heartbeat", detail: "HUGE"}
            payload = json.dumps(body).replace('"HUGE"', "9" * 5000).encode()
            messages.append(Message(GOOD_TOPIC, payload, False))
        elif kind == "broken":
            body, field, hint = detail
            body = dict(body)
            if body.get("msg_id") is None and field != "msg_id":
                body["msg_id"] = msg_id
            if isinstance(body.get("job"), dict) and body["job"].get("key") is None and field != "job.key":
                body["job"] = dict(body["job"], key=key)
            messages.append(Message(GOOD_TOPIC, json.dumps(body).encode(), False, hint))
        elif kind == "too_large":
            body = {"v": 1, "msg_id": msg_id, "ts": iso(NOW), "event": "heartbeat", "pad": "x" * detail}
            messages.append(Message(GOOD_TOPIC, json.dumps(body).encode(), False, "too large"))
        elif kind == "device":
            topic, payload, hint = detail
            messages.append(Message(topic, payload, False, hint))
        elif kind == "topic":
            topic, hint = detail
            body = {"v": 1, "msg_id": msg_id, "ts": iso(NOW), "event": "job_started", "job": {"key": key}}
            messages.append(Message(topic, json.dumps(body).encode(), False, hint))
    return messages


# --- a live listener ----------------------------------------------------------------------

@dataclass
class Live:
    listener: UsageListener
    task: asyncio.Task
    publisher: Publisher
    machines: dict[str, dict]


@pytest.fixture
async def live(db, mosquitto):
    site = await make_site(SITE)
    machine = await make_machine(site, MACHINE)
    await wire_gateway(site, GATEWAY, machine)
    for slug, fmt, device_topic in DEVICES:  # "laser" is wired to a plug, not to the gateway
        await wire_device(await make_machine(site, slug), fmt, device_topic)
    elsewhere = await make_site("ailleurs")
    await wire_gateway(elsewhere, "gw-ailleurs", await make_machine(elsewhere, MACHINE))
    listener = UsageListener(broker_address(mosquitto.url), client_id="fuzz-listener")
    task = asyncio.ensure_future(listener.run())
    await asyncio.wait_for(listener.connected.wait(), 20)
    await eventually(lambda: _subscribed(listener))
    publisher = Publisher(mosquitto.port)
    rows = await Machine.select(Machine.id, Machine.slug).where(Machine.site == site)
    yield Live(listener, task, publisher, {r["slug"]: r for r in rows})
    publisher.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _subscribed(listener: UsageListener) -> bool:
    return bool(listener._subscribed)


# --- the test ---------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(plans=st.lists(message_plan(), min_size=1, max_size=6))
async def test_malformed_messages_are_dead_lettered_and_valid_ones_recorded(db, mosquitto, live, plans):
    run = uuid.uuid4().hex[:10]
    messages = build(plans, run)
    last = await DeadLetter.select(DeadLetter.id).order_by(DeadLetter.id, ascending=False).first()
    before = last["id"] if last else 0
    for message in messages:
        live.publisher.send(message.topic, message.payload)
    # right after the malformed ones, a valid message of every device format...
    valid_devices = every_format(run)
    for device_topic, payload in valid_devices:
        live.publisher.send(device_topic, payload)
    # ...and of the contract. Messages are recorded in arrival order: once this one is there,
    # all the others are
    end = f"{run}-end"
    live.publisher.send(GOOD_TOPIC, json.dumps({"v": 1, "msg_id": end, "ts": iso(datetime.now(UTC)),
                                                "event": "heartbeat"}).encode())
    await eventually(lambda: ReceivedMessage.exists().where(ReceivedMessage.key == f"gw:{GATEWAY}:{end}"))

    dead = await DeadLetter.select().where(DeadLetter.id > before).order_by(DeadLetter.id)
    invalid = [m for m in messages if not m.valid]
    assert [(d["topic"], bytes(d["payload"]), d["size"]) for d in dead] == [
        (m.topic, m.payload[:4096], len(m.payload)) for m in invalid]
    for letter, message in zip(dead, invalid, strict=True):
        assert letter["reason"] and not letter["reason"].startswith("internal error"), (letter["reason"], message.payload[:300])
        assert message.hint in letter["reason"], (letter["reason"], message.payload[:300])

    valid = [m for m in messages if m.valid]
    keys = {r["key"] for r in await ReceivedMessage.select(ReceivedMessage.key).where(
        ReceivedMessage.key.like(f"gw:{GATEWAY}:{run}-%"))}
    assert keys == {f"gw:{GATEWAY}:{m.msg_id}" for m in valid} | {f"gw:{GATEWAY}:{end}"}
    sessions = {r["job_key"]: r["outcome"] for r in await UsageSession.select(
        UsageSession.job_key, UsageSession.outcome).where(UsageSession.job_key.like(f"{run}-job-%"))}
    assert sessions == {m.job_key: ENDINGS.get(m.event, "running") for m in valid if m.job_key}
    machines = {slug: m["id"] for slug, m in live.machines.items()}
    device_keys = {f"dev:{machines[slug]}:{message_id(t, p)}"
                   for (slug, _, _), (t, p) in zip(DEVICES, valid_devices, strict=True)}
    recorded = {r["key"] for r in await ReceivedMessage.select(ReceivedMessage.key).where(
        ReceivedMessage.key.is_in(sorted(device_keys)))}
    assert recorded == device_keys, "a valid device message after malformed ones was not recorded"
    assert not live.task.done(), "the listener stopped"


def every_format(run: str) -> list[tuple[str, bytes]]:
    """One valid message per device format, in DEVICES' order, each unlike any sent before."""
    now = datetime.now(UTC)
    serial = int(run, 16) % 10**9
    return [
        ("tele/fuzz-plug/SENSOR", json.dumps({"Time": now.astimezone(PARIS).replace(tzinfo=None).isoformat(timespec="seconds"),
                                              "ENERGY": {"Total": serial / 1000, "Power": 12, "Voltage": 230}}).encode()),
        ("fuzz-shelly/events/rpc", json.dumps({"src": "shellyplusplugs-fuzz", "dst": "fuzz-shelly/events",
                                               "method": "NotifyStatus", "params": {
                                                   "ts": now.timestamp(),
                                                   "switch:0": {"id": 0, "apower": 3.0, "aenergy": {"total": serial}}}}
                                              ).encode()),
        ("fuzz-octoprint/event/PrintStarted", json.dumps({"name": f"{run}.gcode", "path": f"{run}.gcode",
                                                          "origin": "local", "size": serial, "_event": "PrintStarted",
                                                          "_timestamp": int(now.timestamp())}).encode()),
        ("fuzz-klipper/klipper/status", json.dumps({"eventtime": serial / 7, "status": {
            "print_stats": {"state": "standby", "filename": ""}}}).encode()),
    ]


async def test_ids_a_database_cannot_store_are_dead_lettered_with_a_reason(db, mosquitto, live):
    """Found by fuzzing: PostgreSQL cannot store NUL and no database encodes a lone surrogate,
    so the contract refuses such msg_id and job.key; they are dead-lettered with that reason
    (not lost as an internal error) and the listener goes on."""
    run = uuid.uuid4().hex[:10]
    ids = {"NUL in msg_id": (f"{run}-a\x00b", f"{run}-job-1"), "NUL in job.key": (f"{run}-2", f"{run}-job\x00"),
           "lone surrogate in msg_id": (f"{run}-\ud800", f"{run}-job-3")}
    for msg_id, key in ids.values():
        live.publisher.send(GOOD_TOPIC, json.dumps({"v": 1, "msg_id": msg_id, "ts": iso(datetime.now(UTC)),
                                                    "event": "job_started", "job": {"key": key}}).encode())
    end = f"{run}-end"
    live.publisher.send(GOOD_TOPIC, json.dumps({"v": 1, "msg_id": end, "ts": iso(datetime.now(UTC)),
                                                "event": "heartbeat"}).encode())
    await eventually(lambda: ReceivedMessage.exists().where(ReceivedMessage.key == f"gw:{GATEWAY}:{end}"))
    reasons = [r["reason"] for r in await DeadLetter.select(DeadLetter.reason)]
    assert len(reasons) == len(ids) and all("printable" in r for r in reasons), reasons
    assert not live.task.done()
