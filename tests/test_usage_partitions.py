"""Listeners that add up: ``fabbooking listen --partition K/N`` records only the sites in its
share, with a plain, persistent subscription of its own. Three of them on one database, as
real processes against a real Mosquitto: one SIGKILLed mid-flood and started again, one away
while the broker restarts — every event recorded exactly once, and while a listener is away
its sites' events wait for it at the broker (nobody else takes them).

The listener processes, publishers, flood and checks come from test_usage_reliability.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.cli.main import main
from fabbooking.usage.contract import Job, UsageEvent, build_event, event_topic
from fabbooking.usage.listener import UsageListener
from fabbooking.usage.partition import Partition, parse_partition, share_of
from fabbooking.usage.routing import contract_subscriptions
from fabbooking.usage.tables import ReceivedMessage
from tests.conftest import ROOT, make_machine, make_site
from tests.test_usage_reliability import (
    FloodThread,
    ListenerProcess,
    Plan,
    Publisher,
    assert_exactly_once,
    mosquitto,  # noqa: F401 - the fixture
    restart_persisting,
    wait_for,
)
from tests.usage_helpers import wire_device, wire_gateway

pytestmark = pytest.mark.anyio

# two sites in each of three shares (checked below with the listener's own function)
SITES = ["recouvrance", "lambezellec", "bellevue", "europe", "rade", "kerinou"]
MACHINES = [(site, f"gw-{site}", f"{site}-{n}") for site in SITES for n in (1, 2)]
FLOOD = 3_000


# --- the share function, the command line (no broker, no database) ------------------------

def test_every_share_has_sites_and_shares_are_stable():
    assert {share_of(site, 3) for site in SITES} == {1, 2, 3}
    assert [share_of(site, 3) for site in SITES] == [1, 1, 2, 2, 3, 3]
    # the same in every process, on every machine and in every version (a change would move sites
    # to another listener's session): CRC-32, not Python's salted hash()
    assert share_of("rade", 3) == 3 and share_of("recouvrance", 3) == 1 and share_of("bellevue", 7) == 3
    assert all(share_of(site, 1) == 1 for site in SITES)
    for n in (2, 3, 5):  # every site in exactly one share
        assert all(sum(Partition(k, n).owns(site) for k in range(1, n + 1)) == 1 for site in SITES)


def test_partition_parsing():
    assert parse_partition("2/3") == Partition(2, 3)
    assert parse_partition("1/1") == Partition(1, 1)
    assert str(Partition(2, 3)) == "2/3" and Partition(2, 3).client_id == "fabbooking-listener-2-of-3"


@pytest.mark.parametrize("value, hint", [("0/3", "1/3"), ("4/3", "1/3"), ("a/b", "K/N"), ("1/0", "K/N"),
                                         ("3", "K/N"), ("1/65", "at most")])
def test_a_bad_partition_exits_2_saying_what_to_write(value, hint, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["listen", "--partition", value])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "--partition" in error and hint in error, error


def test_partition_and_share_group_do_not_go_together(capsys):
    assert main(["listen", "--partition", "1/2", "--share-group", "g"]) == 2
    assert "drop --share-group" in capsys.readouterr().err


def test_the_partition_option_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["listen", "--help"])
    help_text = capsys.readouterr().out
    assert "--partition K/N" in help_text and "fabbooking-listener-K-of-N" in help_text


def test_contract_subscriptions_of_a_share():
    assert contract_subscriptions(None, ["rade", "Bad/slug"]) == ["fablab/v1/rade/+/+/event", "fablab/v1/rade/+/status"]
    assert contract_subscriptions(None, []) == []
    assert contract_subscriptions(None) == ["fablab/v1/+/+/+/event", "fablab/v1/+/+/status"]


# --- what a partitioned listener subscribes to (in process, a real database) --------------

class RecordingClient:
    def __init__(self) -> None:
        self.topics: list[str] = []

    def subscribe(self, topic: str, *args, **kwargs) -> None:
        self.topics.append(topic)


async def test_a_partitioned_listener_subscribes_to_its_sites_only_and_picks_up_new_ones(db):
    from fabbooking.usage import directory
    from fabbooking.usage.broker_url import BrokerAddress

    mine, other = await make_site("recouvrance"), await make_site("rade")  # shares 1 and 3 of 3
    await wire_gateway(mine, "gw-a", await make_machine(mine, "prusa"))
    await wire_device(await make_machine(mine, "laser"), "tasmota", "tasmota_laser")
    await wire_device(await make_machine(other, "cnc"), "shelly", "shelly-cnc")
    listener = UsageListener(BrokerAddress("127.0.0.1", 1), partition=Partition(1, 3))
    client = RecordingClient()
    listener._client = client  # type: ignore[assignment]
    directory.forget()
    await listener.refresh_subscriptions()
    assert "fablab/v1/recouvrance/+/+/event" in client.topics and "fablab/v1/recouvrance/+/status" in client.topics
    assert "tele/tasmota_laser/SENSOR" in client.topics
    assert not [t for t in client.topics if "rade" in t or "shelly-cnc" in t], client.topics
    assert not [t for t in client.topics if "/+/+/+/" in t], "no wildcard over every site"

    # a new site and a new device of this share, and a site of another share: the refresh
    # subscribes to the first two only
    lambezellec, europe = await make_site("lambezellec"), await make_site("europe")  # shares 1 and 2
    await wire_device(await make_machine(lambezellec, "plotter"), "octoprint", "octoprint/plotter")
    await wire_device(await make_machine(europe, "printer"), "klipper", "klipper-europe")
    before = len(client.topics)
    await listener.refresh_subscriptions()
    added = client.topics[before:]
    assert "fablab/v1/lambezellec/+/+/event" in added and any(t.startswith("octoprint/plotter/") for t in added)
    assert not [t for t in added if "europe" in t], added
    assert "fablab/v1/recouvrance/+/+/event" not in added, "subscribed once"

    other_listener = UsageListener(BrokerAddress("127.0.0.1", 1), partition=Partition(2, 3))
    other_listener._client = client2 = RecordingClient()  # type: ignore[assignment]
    await other_listener.refresh_subscriptions()
    assert "fablab/v1/europe/+/+/event" in client2.topics and any("klipper-europe" in t for t in client2.topics)
    assert not [t for t in client2.topics if "recouvrance" in t or "lambezellec" in t]


# --- three listener processes, a flood, a SIGKILL, a broker restart ----------------------

class PartitionListener(ListenerProcess):
    """``fabbooking listen --partition K/N`` with its default client id."""

    def __init__(self, db_url: str, broker_url: str, partition: str, logs) -> None:
        k, n = partition.split("/")
        super().__init__(db_url, broker_url, f"fabbooking-listener-{k}-of-{n}", logs)
        self.partition = partition

    def start(self) -> None:
        import subprocess
        import sys

        self.generation += 1
        self.log_path = self.logs / f"listen-{self.client_id}-{self.generation}.log"
        command = [sys.executable, "-m", "fabbooking", "listen", "--partition", self.partition]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
async def machines(db) -> dict[str, int]:
    ids = {}
    for site in SITES:
        site_id = await make_site(site)
        served = [m for s, _, m in MACHINES if s == site]
        for machine in served:
            ids[machine] = await make_machine(site_id, machine)
        gateway = await wire_gateway(site_id, f"gw-{site}", ids[served[0]])
        from fabbooking.usage.tables import Telemetry

        for machine in served[1:]:
            await Telemetry.insert(Telemetry(machine=ids[machine], format="contract", gateway=gateway))
    return ids


@pytest.fixture
def three(db, mosquitto, tmp_path):  # noqa: F811 - the fixture imported above
    started = [PartitionListener(db.url, mosquitto.url, f"{k}/3", tmp_path) for k in (1, 2, 3)]
    for listener in started:
        listener.start()
    yield started
    for listener in started:
        listener.stop()


def plan(run: str, count: int) -> Plan:
    """As test_usage_reliability.plan, round the machines of every site."""
    base = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    result = Plan()
    for n in range(count):
        site, gateway, machine = MACHINES[(n // 2) % len(MACHINES)]
        job, started, duration, msg_id = f"{run}-job-{n // 2}", base + timedelta(seconds=n // 2), 60.0 + n % 600, f"{run}-{n}"
        if n % 2 == 0:
            event = UsageEvent(msg_id, started, "job_started", Job(job, file=f"{job}.gcode"))
        else:
            event = UsageEvent(msg_id, started + timedelta(seconds=duration - 1), "job_finished",
                               Job(job, duration_s=duration - 1))
            result.sessions[(machine, job)] = (started, duration - 1, f"{job}.gcode")
        result.messages.append((event_topic(site, gateway, machine), build_event(event)))
        result.keys.add(f"gw:{gateway}:{msg_id}")
    return result


async def recorded_by_share(run: str) -> dict[int, int]:
    """Events of ``run`` recorded, by the share of their site."""
    counts = dict.fromkeys((1, 2, 3), 0)
    for row in await ReceivedMessage.select(ReceivedMessage.key).where(ReceivedMessage.key.like(f"gw:%:{run}-%")):
        site = row["key"].split(":")[1].removeprefix("gw-")
        counts[share_of(site, 3)] += 1
    return counts


def expected_by_share(expected: Plan) -> dict[int, int]:
    counts = dict.fromkeys((1, 2, 3), 0)
    for key in expected.keys:
        counts[share_of(key.split(":")[1].removeprefix("gw-"), 3)] += 1
    return counts


async def wait_all_subscribed(port: int, listeners: list[PartitionListener]) -> None:
    """A heartbeat to every site until each is recorded: every share's listener is subscribed."""
    publisher = Publisher(port)
    run = f"probe{uuid.uuid4().hex[:6]}"
    sent = 0

    async def ready() -> bool:
        nonlocal sent
        publisher.send([(event_topic(site, f"gw-{site}", f"{site}-1"),
                         build_event(UsageEvent(f"{run}-{sent}-{site}", datetime.now(UTC), "heartbeat")))
                        for site in SITES])
        sent += 1
        keys = await ReceivedMessage.select(ReceivedMessage.key).where(ReceivedMessage.key.like(f"gw:%:{run}-%"))
        return {row["key"].split(":")[1] for row in keys} == {f"gw-{site}" for site in SITES}

    try:
        await wait_for(ready, "every share's listener subscribed", timeout=60, alive=tuple(listeners))
    finally:
        publisher.close()


async def test_three_listeners_add_up_and_lose_nothing(db, mosquitto, machines, three):  # noqa: F811
    """Three listeners, 1/3, 2/3 and 3/3, on one database. A flood of 3,000 events over six
    sites: listener 2/3 is SIGKILLed after ~1,000 are recorded (batches in hand, not
    acknowledged), the others go on with their sites (300 more events), and it is started again:
    its session at the broker gives it what it had not acknowledged and what came meanwhile.
    Then listener 3/3 is away while the broker restarts: events published meanwhile (the
    others are reconnecting) wait, its own sites' for it alone. Every event exactly once."""
    one, two, three_ = three
    await wait_all_subscribed(mosquitto.port, three)
    expected = plan("flood", FLOOD)
    flood = FloodThread(mosquitto.port, expected.messages)
    marks: list[tuple[int, int]] = []  # (recorded, recorded of share 2) when 2/3 is killed, restarted
    flood.start()
    try:
        async def progress() -> bool:
            counts = await recorded_by_share("flood")
            total = sum(counts.values())
            flood.saw_recorded(total)
            if flood.error:
                raise flood.error
            if not marks and total >= 1_000:
                two.kill()  # SIGKILL: batches in hand, not acknowledged
                marks.append((total, (await recorded_by_share("flood"))[2]))
            elif len(marks) == 1 and total - marks[0][0] >= 300:  # the others went on meanwhile
                marks.append((total, counts[2]))
                two.start()  # same client id: its session, with its sites' events, is there
            for listener in (one, three_) + ((two,) if len(marks) != 1 else ()):
                listener.check_alive()
            return total >= FLOOD and not flood.is_alive()

        await wait_for(progress, f"{FLOOD} events recorded", alive=(one, three_))
    finally:
        flood.stop()
        flood.join(timeout=30)
    assert flood.error is None
    assert len(marks) == 2 and marks[0][0] < FLOOD, marks
    # while 2/3 was away, nobody recorded its sites: the others took none of its share
    assert marks[1][1] == marks[0][1], f"share 2 was recorded without its listener: {marks}"
    await assert_exactly_once(expected, "flood", machines)

    # listener 3/3 away while the broker restarts; events before and after the restart
    gap, after = plan("gap", 600), plan("after", 300)
    three_.kill()
    publisher = Publisher(mosquitto.port)
    publisher.send(gap.messages)
    publisher.wait_acknowledged()
    publisher.close()
    want = expected_by_share(gap)
    await wait_for(lambda: _shares_recorded("gap", {1: want[1], 2: want[2]}), "shares 1 and 2 recorded",
                   alive=(one, two))
    assert (await recorded_by_share("gap"))[3] == 0, "share 3's events wait for their listener"
    restart_persisting(mosquitto)
    publisher = Publisher(mosquitto.port)  # before the others are back (paho's back-off is ≥ 1 s)
    publisher.send(after.messages)
    publisher.wait_acknowledged()
    publisher.close()
    three_.start()
    await wait_for(lambda: _shares_recorded("gap", want), "the gap recorded", alive=(one, two, three_))
    await wait_for(lambda: _shares_recorded("after", expected_by_share(after)), "events after the restart recorded",
                   alive=(one, two, three_))
    await assert_exactly_once(gap, "gap", machines)
    await assert_exactly_once(after, "after", machines)
    assert all(listener.alive() for listener in three) and one.generation == 1 and two.generation == 2
    assert "fabbooking-listener-1-of-3" in one.log() and "share 1/3: 2 sites: lambezellec, recouvrance" in one.log()


async def _shares_recorded(run: str, want: dict[int, int]) -> bool:
    counts = await recorded_by_share(run)
    return all(counts[k] >= n for k, n in want.items())
