"""``GET /metrics``: the figures (``metrics.py``) in Prometheus' text format, for this machine
(loopback) and the addresses FABBOOKING_METRICS_ALLOW names; anybody else finds nothing
there (404), as for any address that does not exist."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.response import Response
from prometheus_client import generate_latest

from fabbooking.observability.metrics import registry
from fabbooking.settings import Network

# The text format every Prometheus reads (Litestar adds « ; charset=utf-8 »)
TEXT_FORMAT = "text/plain; version=0.0.4"


def may_read_metrics(host: str | None, allowed: Sequence[Network]) -> bool:
    """Whether the client at ``host`` may read /metrics: loopback, or within ``allowed``."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:  # a unix socket, or a test client with a name
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or any(address in network for network in allowed)


def metrics_endpoint(allowed: Sequence[Network]) -> HTTPRouteHandler:
    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics(request: Request) -> Response[bytes]:
        if not may_read_metrics(request.client.host if request.client else None, allowed):
            raise NotFoundException()
        return Response(generate_latest(registry), media_type=TEXT_FORMAT)

    return metrics
