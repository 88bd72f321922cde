"""Who may report what: the gateways, the machines' telemetry settings and the device topics,
kept in memory by the listener instead of being read for every batch.

The directory is read again after a change made in this process (``forget``), when it is
older than ``MAX_AGE_S`` (a change made by another process) and whenever a message names
something it does not know (a gateway or a device topic
wired a moment ago), at most once per batch. It belongs to one database: pointing the tables
at another engine (the tests do, for every test) starts afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fabbooking.network.tables import Site
from fabbooking.usage.routing import DECODERS, DeviceRoute, route_for
from fabbooking.usage.tables import Gateway, Telemetry

MAX_AGE_S = 30.0


@dataclass
class Directory:
    gateways: dict[str, dict]  # by ident: id, ident, site_slug
    machines: dict[tuple[str, str], dict]  # by (site slug, machine slug): telemetry settings
    machines_by_id: dict[int, dict]
    routes: list[DeviceRoute]
    loaded_at: float = 0.0
    sites: list[str] = field(default_factory=list)  # every site's slug: a partitioned listener subscribes by site
    _by_topic: dict[str, list[tuple[int, DeviceRoute]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n, route in enumerate(self.routes):
            self._by_topic.setdefault(route.device_topic, []).append((n, route))

    @classmethod
    async def load(cls) -> Directory:
        gateways = {g["ident"]: g for g in await Gateway.select(
            Gateway.id, Gateway.ident, Gateway.site.slug.as_alias("site_slug"))}
        rows = await Telemetry.select(
            Telemetry.all_columns(), Telemetry.machine.slug.as_alias("machine_slug"),
            Telemetry.machine.site.slug.as_alias("site_slug"),
            Telemetry.machine.site.timezone.as_alias("timezone"))
        machines = {(r["site_slug"], r["machine_slug"]): r for r in rows}
        routes = [DeviceRoute(r["machine"], r["format"], r["device_topic"])
                  for r in rows if r["format"] in DECODERS and r["device_topic"]]
        sites = [r["slug"] for r in await Site.select(Site.slug)]
        return cls(gateways, machines, {r["machine"]: r for r in rows}, routes, time.monotonic(), sites)

    def route(self, topic: str) -> DeviceRoute | None:
        """``routing.route_for`` over the few routes whose device topic appears in ``topic``
        (a device topic is a leading part of the topic, or Tasmota's middle level), instead
        of every route of the network."""
        levels = topic.split("/")
        candidates: list[tuple[int, DeviceRoute]] = []
        for end in range(1, len(levels)):
            candidates += self._by_topic.get("/".join(levels[:end]), [])
        if len(levels) >= 3:
            candidates += self._by_topic.get("/".join(levels[1:-1]), [])
        return route_for(topic, [route for _, route in sorted(set(candidates), key=lambda c: c[0])])

    def gateway_machines(self, gateway_id: int) -> list[int]:
        return [m["machine"] for m in self.machines_by_id.values() if m["gateway"] == gateway_id]


_cached: Directory | None = None
_cached_for: object = None  # the engine it was read from


def forget() -> None:
    """A gateway or a machine's telemetry changed in this process: the listener running
    here reads the directory again before its next batch (a listener in another process
    does at its next refresh, every few seconds: listener.ROUTES_REFRESH_S)."""
    global _cached
    _cached = None


async def current(stale: bool = False) -> Directory:
    """The directory, read again when ``stale`` (a message named something unknown), when
    it is older than MAX_AGE_S, or when the tables now use another database."""
    global _cached, _cached_for
    engine = Telemetry._meta.db
    if (stale or _cached is None or _cached_for is not engine
            or time.monotonic() - _cached.loaded_at > MAX_AGE_S):
        _cached, _cached_for = await Directory.load(), engine
    return _cached
