"""The MQTT listener: paho reads and writes its socket on the asyncio event loop (no network
thread: no lock, no wake-up per message, no waiting for the interpreter lock between two
threads); a consumer records the messages in batches and acknowledges each one (PUBACK)
after its batch is committed, in arrival order. Killing the process at any instant loses
nothing (the broker redelivers what was not acknowledged) and duplicates nothing
(recording is idempotent).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from fabbooking.observability import metrics
from fabbooking.usage import directory as directories
from fabbooking.usage.broker_url import BrokerAddress
from fabbooking.usage.partition import Partition
from fabbooking.usage.recording import Incoming, record_batch
from fabbooking.usage.routing import (
    contract_subscriptions,
    device_subscriptions,
    unusable_routes,
)

log = logging.getLogger("fabbooking.usage")
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps our queue for a week of downtime
# A batch costs about ten statements and one commit whatever its size: a backlog drains
# faster in batches of 1,000 than of 500 (PostgreSQL waits less per message). The broker
# may hand over twice that, so the next batch arrives while one is recorded.
BATCH_MAX = 1000
RECEIVE_MAXIMUM = 2 * BATCH_MAX
# How often the listener reads the directory again and subscribes to what is new (a new site
# of its share, a new device topic): nobody is subscribed to them until then, so short; the
# read is two small queries.
ROUTES_REFRESH_S = 5.0
STOP_GRACE_S = 10.0  # how long a stop waits for the batch being recorded
LAG_EVERY_S = 1.0  # how often the listener's lag is set for /metrics
RECONNECT_DELAY_S = (1.0, 30.0)  # first and longest wait before connecting again
MISC_EVERY_S = 1.0  # keep-alive: paho's pings, and noticing a broker that stopped answering
READ_BURST = 256  # packets read per wake-up before the event loop runs anything else


class Received(NamedTuple):  # a tuple: one is made for every message
    incoming: Incoming
    mid: int
    qos: int
    connection: int  # acks are only valid on the connection that delivered the message


class _Client(mqtt.Client):
    """paho's client with a short road for what the listener receives by the thousand: an
    MQTT 5 QoS 1 PUBLISH without properties (as Mosquitto forwards the gateways' and
    devices' messages) is decoded here and handed to ``deliver`` as (topic, payload, packet
    id, QoS), without the objects paho makes for every message (a table of every MQTT 5
    property, a message with its own ``threading.Condition``) and without matching its
    topic against per-topic callbacks (the listener registers none). Anything else (MQTT
    3.1.1, another QoS, properties) goes paho's way and reaches ``deliver`` too."""

    deliver: Callable[[str, bytes, int, int], None]

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        packet, header = self._in_packet["packet"], self._in_packet["command"]
        if self._protocol == mqtt.MQTTv5 and header & 0x06 == 0x02 and self._manual_ack:
            end = 2 + int.from_bytes(packet[:2], "big")  # the topic's end; then the packet id
            if 2 < end and end + 3 <= len(packet) and packet[end + 2] == 0:  # no properties
                try:
                    topic = packet[2:end].decode("utf-8")
                except UnicodeDecodeError:
                    return super()._handle_publish()
                self.deliver(topic, bytes(packet[end + 3:]), int.from_bytes(packet[end:end + 2], "big"), 1)
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS  # PUBACK: by the consumer, after the commit
        return super()._handle_publish()

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        self.deliver(message.topic, bytes(message.payload), message.mid, message.qos)


class UsageListener:
    """Subscribe to the contract's topics and every configured device topic; record.

    ``share_group`` puts several listeners on one MQTT v5 shared subscription. It is off by
    default: Mosquitto 2.0 does not keep a shared subscription across its own restart (the
    session comes back, the $share subscription does not), so events published between the
    broker's restart and the listener's reconnection would reach nobody. A plain
    subscription is kept, so nothing is lost; several plain listeners each record every
    event once between them (recording is idempotent), without sharing the work.

    ``partition`` (``fabbooking listen --partition K/N``) shares the work without $share: this
    listener subscribes, plainly and persistently, only to the topics of the sites in its
    share (contract events and status, and the device topics of those sites' machines).
    """

    def __init__(self, broker: BrokerAddress, client_id: str = "fabbooking-listener",
                 share_group: str | None = None, mqtt5: bool = True, batch_max: int = BATCH_MAX,
                 partition: Partition | None = None) -> None:
        self.broker = broker
        self.partition = partition
        self.client_id = client_id
        self.share_group = share_group if mqtt5 else None
        self.mqtt5 = mqtt5
        self.batch_max = batch_max
        self.connected = asyncio.Event()
        self.recorded = 0
        # paho's callbacks append here; the consumer takes batches. At most RECEIVE_MAXIMUM
        # messages: the broker sends no more until some are acknowledged (MQTT 5).
        self._arrived: deque[Received] = deque()
        self._recording: list[Received] = []  # the batch being recorded, not acknowledged yet
        self._arrival = asyncio.Event()
        self._consumer_waiting = False
        self._connection = 0
        self._socket_closed = asyncio.Event()  # the connection is gone: connect again
        self._watched: tuple[object, int] | None = None  # the socket the event loop watches, its descriptor
        self._reading_paused = False  # RECEIVE_MAXIMUM messages wait: the socket is not read
        self._reconnect_delay = RECONNECT_DELAY_S[0]
        self._subscribed: set[str] = set()
        self._sites: list[str] | None = None  # a partitioned listener's sites, as last logged
        self._unusable: set[tuple[int, str]] = set()  # logged once
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False

    # --- paho's callbacks: on the event loop (the socket ones also from the connecting thread) ---

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self._connection += 1
        self._subscribed = set()
        self._reconnect_delay = RECONNECT_DELAY_S[0]
        self._on_connected()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._stopping:
            log.info("disconnected from the broker: the listener stops")
        else:
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)
        self._loop.call_soon_threadsafe(self.connected.clear)
        # The messages of the connection that ended must not be acknowledged on the next one
        # (paho still says "connected" after a DISCONNECT from the broker, until reconnect()
        # runs; a PUBACK sent then could reach the new connection and acknowledge there a
        # message with the same packet id that is not recorded yet).
        self._on_loop(self._connection_ended)

    def _connection_ended(self) -> None:
        self._connection += 1

    def _deliver(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.arrive(Received(Incoming(topic, payload, datetime.now(UTC)), mid, qos, self._connection))

    def arrive(self, item: Received) -> None:
        """Hand a message over to the consumer (on the event loop); the consumer is woken
        only when it waits for messages, not while it records."""
        self._arrived.append(item)
        if self._consumer_waiting:
            self._consumer_waiting = False
            self._arrival.set()

    def _on_loop(self, function, *args) -> None:
        """Run on the event loop: paho calls the socket callbacks from the thread that
        connects, too."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _on_socket_open(self, client, userdata, sock) -> None:
        self._on_loop(self._watch, sock)

    def _on_socket_close(self, client, userdata, sock) -> None:
        self._on_loop(self._unwatch, sock)

    def _on_socket_register_write(self, client, userdata, sock) -> None:
        self._on_loop(self._watch_writable, sock)

    def _on_socket_unregister_write(self, client, userdata, sock) -> None:
        self._on_loop(self._unwatch_writable)

    def _watch(self, sock) -> None:
        if sock is self._client.socket() and sock.fileno() >= 0:  # not closed meanwhile
            self._watched = (sock, sock.fileno())
            self._reading_paused = False
            self._loop.add_reader(self._watched[1], self._readable)

    def _pause_reading(self) -> None:
        if self._watched is not None and not self._reading_paused:
            self._loop.remove_reader(self._watched[1])
            self._reading_paused = True

    def _resume_reading(self) -> None:
        if self._watched is not None and self._reading_paused:
            self._reading_paused = False
            self._loop.add_reader(self._watched[1], self._readable)
            if getattr(self._watched[0], "pending", lambda: 0)():  # TLS: decrypted bytes epoll cannot see
                self._loop.call_soon(self._readable)

    def _unwatch(self, sock) -> None:
        """The connection's socket is closed (or one closed before it was watched, with no
        other open): stop watching it, and connect again."""
        if self._watched is not None and self._watched[0] is sock:
            self._loop.remove_reader(self._watched[1])
            self._loop.remove_writer(self._watched[1])
            self._watched = None
            self._socket_closed.set()
        elif self._client.socket() is None:
            self._socket_closed.set()

    def _watch_writable(self, sock) -> None:
        if self._watched is not None and self._watched[0] is sock:
            self._loop.add_writer(self._watched[1], self._client.loop_write)

    def _unwatch_writable(self) -> None:
        if self._watched is not None:
            self._loop.remove_writer(self._watched[1])

    def _readable(self) -> None:
        """Read what the socket holds, a packet at a time, up to READ_BURST packets: the
        event loop calls again while more is there. With RECEIVE_MAXIMUM messages waiting,
        reading pauses until the consumer takes a batch: Mosquitto 2.0 configured with
        ``max_inflight_messages 0`` does not keep to the listener's receive maximum while it
        hands over a queued backlog (the bench measured 182,000 messages waiting)."""
        client = self._client
        for _ in range(READ_BURST):
            before = len(self._arrived)
            if before >= RECEIVE_MAXIMUM:
                self._pause_reading()
                return
            if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
                return  # the connection is lost: paho closed the socket
            if len(self._arrived) == before:
                break  # nothing more for now (or another packet than a message)
        sock = client.socket()
        if sock is not None and getattr(sock, "pending", lambda: 0)():  # TLS: decrypted bytes epoll cannot see
            self._loop.call_soon(self._readable)

    # --- asyncio side ---------------------------------------------------------------

    def _on_connected(self) -> None:
        self.connected.set()
        task = asyncio.ensure_future(self.refresh_subscriptions())
        self._tasks.add(task)  # keep a reference: a task nobody holds may vanish
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("subscribing failed: %r", task.exception())

    async def refresh_subscriptions(self) -> None:
        """Subscribe to what is configured now (new device topics appear while we run), one
        filter at a time: a device topic that cannot be subscribed to is logged once and
        skipped, and never stops the others. A partitioned listener takes its share of the
        sites, read again each time: a new site or device topic goes to the listener it
        belongs to."""
        directory = await directories.current(stale=True)
        routes, sites = directory.routes, None
        if self.partition is not None:
            owns = self.partition.owns
            sites = sorted(site for site in directory.sites if owns(site))
            if sites != self._sites:  # which listener has which site: in its log
                log.info("share %s: %d sites: %s", self.partition, len(sites), ", ".join(sites) or "none yet")
                self._sites = sites
            routes = [route for route in routes
                      if route.machine_id in directory.machines_by_id
                      and owns(directory.machines_by_id[route.machine_id]["site_slug"])]
        for route, problem in unusable_routes(routes):
            if (route.machine_id, route.device_topic) not in self._unusable:
                self._unusable.add((route.machine_id, route.device_topic))
                log.error("machine %s: device topic %r skipped: %s", route.machine_id, route.device_topic, problem)
        topics = contract_subscriptions(self.share_group, sites) + device_subscriptions(routes, self.share_group)
        if self._client is None:
            return
        for topic in [t for t in topics if t not in self._subscribed]:
            try:
                if self.mqtt5:
                    self._client.subscribe(topic, options=SubscribeOptions(qos=1))
                else:
                    self._client.subscribe(topic, 1)
            except ValueError as exc:  # paho's own check; the others still go
                log.error("cannot subscribe to %r: %s", topic, exc)
            self._subscribed.add(topic)

    def _make_client(self) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self.mqtt5 else mqtt.MQTTv311
        client = _Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=protocol,
                             manual_ack=True, clean_session=None if self.mqtt5 else False)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.deliver = self._deliver
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        client.max_inflight_messages_set(RECEIVE_MAXIMUM)
        return client

    async def run(self) -> None:
        """Connect (retrying while the broker is down) and record until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._client = self._make_client()
        if self.mqtt5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            self._client.connect_async(self.broker.host, self.broker.port, keepalive=30,
                                       clean_start=False, properties=properties)
        else:
            self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        background = [asyncio.ensure_future(job) for job in (
            self._connect_forever(), self._keep_alive_forever(), self._refresh_routes_forever(),
            self._report_lag_forever())]
        try:
            await self._consume()
        finally:
            self._stopping = True
            for job in background:
                job.cancel()
            self._client.disconnect()
            self._client.loop_write()  # the DISCONNECT, if the socket is still there
            sock = self._client.socket()
            if sock is not None:
                self._unwatch(sock)

    async def _connect_forever(self) -> None:
        """Connect, and connect again whenever the connection is lost, waiting longer after
        each failure (1 s, doubling up to 30 s). Connecting (DNS, TCP, TLS) blocks: it runs
        in a thread, and the socket is then watched by the event loop."""
        while True:
            self._socket_closed.clear()
            try:
                await self._loop.run_in_executor(None, self._client.reconnect)
            except Exception as exc:  # noqa: BLE001 - the broker is away: try again later
                log.warning("cannot reach the broker at %s:%s (%s); trying again in %.0f s",
                            self.broker.host, self.broker.port, exc, self._reconnect_delay)
            else:
                await self._socket_closed.wait()
            await asyncio.sleep(self._reconnect_delay)
            self._reconnect_delay = min(self._reconnect_delay * 2, RECONNECT_DELAY_S[1])

    async def _keep_alive_forever(self) -> None:
        while True:
            await asyncio.sleep(MISC_EVERY_S)
            if self._client.socket() is not None:
                try:
                    self._client.loop_misc()
                except Exception:  # noqa: BLE001 - keep the pings going
                    log.exception("MQTT keep-alive failed")

    async def _refresh_routes_forever(self) -> None:
        while True:
            await asyncio.sleep(ROUTES_REFRESH_S)
            if self.connected.is_set():
                try:
                    await self.refresh_subscriptions()
                except Exception:  # noqa: BLE001 - try again at the next round
                    log.exception("could not refresh device subscriptions")

    async def _next_batch(self) -> list[Received]:
        """Every message arrived (up to batch_max), waiting for one if none has."""
        while True:
            if self._arrived:
                batch = [self._arrived.popleft() for _ in range(min(len(self._arrived), self.batch_max))]
                if self._reading_paused:
                    self._resume_reading()
                return batch
            self._arrival.clear()
            self._consumer_waiting = True
            await self._arrival.wait()

    def oldest_unacknowledged(self) -> datetime | None:
        """When the oldest message received and not acknowledged yet arrived."""
        oldest = self._recording[:1] or list(itertools.islice(self._arrived, 1))
        return oldest[0].incoming.received_at if oldest else None

    def _report_lag(self) -> None:
        oldest = self.oldest_unacknowledged()
        metrics.mqtt_lag.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0)

    async def _report_lag_forever(self) -> None:
        """Set every second rather than read when asked: under ``serve --workers N`` the
        listener runs in another process than the one that answers /metrics."""
        while True:
            self._report_lag()
            await asyncio.sleep(LAG_EVERY_S)

    async def _consume(self) -> None:
        while True:
            batch = await self._next_batch()
            self._recording = batch
            metrics.mqtt_batch_size.observe(len(batch))
            await self._record_shielded(batch)
            # acks are only valid on the connection that delivered (see _on_disconnect)
            if self._client is not None and self._client.is_connected() and self._client.socket() is not None:
                connection, ack = self._connection, self._client.ack
                for item in batch:
                    if item.qos > 0 and item.connection == connection:
                        ack(item.mid, item.qos)
                self._client.loop_write()  # now, rather than after the next batch is parsed
            self._recording = []
            self._report_lag()
            self.recorded += len(batch)

    async def _record_shielded(self, batch: list[Received]) -> None:
        """Record the batch; a stop (cancellation) that comes meanwhile waits for the
        database work to end first. Cancelling it midway can leave SQLite's connection
        thread waiting forever (aiosqlite #259), so the stop would never finish; the batch
        is then not acknowledged, so the broker delivers it again and nothing is lost."""
        recording = asyncio.ensure_future(self._record_until_done(batch))
        try:
            await asyncio.shield(recording)
        except asyncio.CancelledError:
            done, _ = await asyncio.wait({recording}, timeout=STOP_GRACE_S)
            if not done:  # the database is away: give up on this batch, it comes again
                recording.cancel()
            raise

    async def _record_until_done(self, batch: list[Received]) -> None:
        """A database outage must not turn into lost messages: wait and retry."""
        delay = 1.0
        while True:
            try:
                await record_batch([item.incoming for item in batch], datetime.now(UTC))
                return
            except Exception:  # noqa: BLE001 - typically the database is unreachable
                log.exception("could not record %d messages; retrying in %.0f s", len(batch), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

