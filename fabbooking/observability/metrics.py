"""What the app counts, for Prometheus (``/metrics``, see docs/observability.md).

Every figure is this process's own: several ``serve`` processes each answer with their own
counts, and Prometheus adds them up — except under ``serve --workers N``, which sets
PROMETHEUS_MULTIPROC_DIR: its web processes and its background worker then write their
counts to files there, and whichever web process answers /metrics adds them all up
(prometheus_client's multiprocess mode). Counters and histograms move as things happen (a
few microseconds); the database pool is read when /metrics is asked for.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

disable_created_metrics()  # a *_created series beside every counter: twice the text, no use here

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"  # no route: a 404 or 405 before any handler

http_requests = Counter(
    "fabbooking_http_requests", "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"])
http_duration = Histogram(
    "fabbooking_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template",
    ["method", "route"])

bookings_created = Counter("fabbooking_bookings_created", "Bookings made, by purpose (maker or workshop)",
                           ["purpose"])
bookings_refused = Counter("fabbooking_bookings_refused", "Booking requests refused, by refusal code",
                           ["code"])

mqtt_recorded = Counter("fabbooking_mqtt_messages_recorded",
                        "MQTT messages recorded (used, or known copies of one recorded before)")
mqtt_dead_lettered = Counter("fabbooking_mqtt_messages_dead_lettered",
                             "MQTT messages put aside in dead_letter, by kind of reason", ["reason"])
mqtt_lag = Gauge("fabbooking_mqtt_listener_lag_seconds",
                 "Now minus the arrival of the oldest message not yet acknowledged (0: none waiting); "
                 "the listener sets it every second", multiprocess_mode="livemax")
mqtt_batch_size = Histogram("fabbooking_mqtt_batch_size", "Messages the listener recorded per batch",
                            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))

job_runs = Counter("fabbooking_background_job_runs",
                   "Background job ticks this process ran (a tick another process ran is not counted), by job",
                   ["job"])
job_failures = Counter("fabbooking_background_job_failures",
                       "Background job ticks that failed (rolled back; the next tick retries), by job", ["job"])


# The series of each (method, route, status) once found: finding them costs more than counting
_request_series: dict[tuple[str, str, int], tuple] = {}


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request."""
    key = (method, route, status)
    children = _request_series.get(key)
    if children is None:
        if method not in HTTP_METHODS:  # any word can be sent as a method: keep the series few
            method = "OTHER"
            key = (method, route, status)
        children = _request_series.get(key)
    if children is None:
        children = _request_series[key] = (http_requests.labels(method, route, str(status)),
                                           http_duration.labels(method, route))
    children[0].inc()
    children[1].observe(seconds)


# --- MQTT dead letters: a reason is a sentence; its kind is a label ---------------------------

_REASON_KINDS = (  # (the reason starts with, or holds, this) -> kind
    ("no machine is set", "no_route"),
    ("unknown gateway", "unknown_gateway"),
    (" does not serve machine ", "machine_not_served"),
    (" belongs to site ", "wrong_site"),
    ("internal error", "internal_error"),
    ("payload too large", "too_large"),
    ("not JSON", "not_json"),
    ("ts ", "clock"),
)


def reason_kind(reason: str) -> str:
    """A dead letter's reason, as one of a few kinds (a label must not carry free text)."""
    for words, kind in _REASON_KINDS:
        if reason.startswith(words) or (words[0] == " " and words in reason):
            return kind
    return "invalid_payload"


def count_dead_letters(reasons: Iterable[str]) -> None:
    for reason in reasons:
        mqtt_dead_lettered.labels(reason_kind(reason)).inc()


# --- states read when asked -----------------------------------------------------------------

class DatabasePool(Collector):
    """Connections of the database pool: in use, idle, and the most it opens (of the
    process that answers /metrics)."""

    def collect(self):
        from fabbooking import database

        usage = database.pool_usage()
        connections = GaugeMetricFamily("fabbooking_db_pool_connections",
                                        "Database connections of this process, by state", labels=["state"])
        largest = GaugeMetricFamily("fabbooking_db_pool_max_connections",
                                    "The most database connections this process's pool opens")
        if usage is not None:
            connections.add_metric(["in_use"], usage.in_use)
            connections.add_metric(["idle"], usage.idle)
            largest.add_metric([], usage.max_size)
        yield connections
        yield largest


class FrozenObjects(Collector):
    """Objects the process made to start with and keeps out of the garbage collector's full
    passes (fabbooking.long_lived; of the process that answers /metrics)."""

    def collect(self):
        frozen = GaugeMetricFamily("fabbooking_gc_frozen_objects",
                                   "Objects from this process's start kept out of the garbage collector's full passes")
        frozen.add_metric([], gc.get_freeze_count())
        yield frozen


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        REGISTRY.register(DatabasePool())
        REGISTRY.register(FrozenObjects())
        return REGISTRY
    registry = CollectorRegistry()  # every process's files, and this process's own states
    MultiProcessCollector(registry)
    registry.register(DatabasePool())
    registry.register(FrozenObjects())
    return registry


registry = _registry()
