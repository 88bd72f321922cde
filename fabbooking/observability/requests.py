"""Every HTTP request, seen once from outside the app: its id (``X-Request-ID``), one log line
(method, route template, status, duration, id) and its count and duration in /metrics.

It wraps Litestar's whole handler rather than being one of its middleware: those run per
route, after routing, so a path that matches no route (404, 405) would go unseen.
"""

from __future__ import annotations

import logging
import os
import re
from time import perf_counter

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fabbooking.observability.logs import request_id
from fabbooking.observability.metrics import UNMATCHED, count_request

log = logging.getLogger("fabbooking.requests")
_HEADER = b"x-request-id"
# An id a proxy or a client sends is kept when it is plainly an id (a UUID, a hex string…):
# it goes into the log as it is, so no spaces, quotes or line breaks, and not too long.
_SANE_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def incoming_request_id(headers) -> str | None:
    for name, value in headers:
        if name == _HEADER:
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


class RequestObserver:
    """The ASGI app ``app``, observed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        rid = incoming_request_id(scope["headers"]) or os.urandom(8).hex()
        rid_header = (_HEADER, rid.encode("ascii"))
        token = request_id.set(rid)
        status = 500  # unless a response starts

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), rid_header]}  # type: ignore[typeddict-item]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = perf_counter() - started
            method, route = scope["method"], scope.get("path_template") or UNMATCHED  # type: ignore[typeddict-item]
            count_request(method, route, status, seconds)
            if log.isEnabledFor(logging.INFO):
                duration_ms = round(seconds * 1000, 1)
                # the record made directly: Logger.info would look up the calling frame too
                record = logging.LogRecord(log.name, logging.INFO, __file__, 0, "%s %s %d %.1f ms",
                                           (method, route, status, duration_ms), None)
                record.method, record.route, record.status = method, route, status
                record.duration_ms, record.request_id = duration_ms, rid
                log.handle(record)
            request_id.reset(token)
