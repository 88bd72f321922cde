"""What observing a request costs (fabbooking/observability/requests.py): its id, its log
line and its metrics, around an ASGI app that answers at once — no database, no Litestar —
then around Fabbooking's own app answering ``GET /healthz`` (Litestar, no statement).

    .venv/bin/python bench/observer_overhead.py [--requests 50000]

The log line is written as ``fabbooking serve`` writes it (its handler and formatter), to
/dev/null instead of stderr. Prints the cost per request in microseconds of this process's
CPU time (the machine is shared: wall-clock time says more about the neighbours), with and
without the log line, the best of five rounds each.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import sys
import time
from pathlib import Path

# bench/http.py must not shadow the standard library's http: this folder leaves the path
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

from fabbooking.observability.logs import logging_config  # noqa: E402
from fabbooking.observability.requests import RequestObserver  # noqa: E402

SCOPE = {"type": "http", "method": "GET", "path": "/machines/5", "path_template": "/machines/{machine_id}",
         "headers": [(b"host", b"fabbooking.example.org"), (b"accept", b"text/html"),
                     (b"accept-language", b"fr-FR,fr;q=0.9"), (b"cookie", b"fabbooking_session=abc")]}
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
BODY = {"type": "http.response.body", "body": b"ok"}


async def answer(scope, receive, send) -> None:
    await send(START)
    await send(BODY)


async def receive():
    return {"type": "http.request", "body": b""}


async def send(message) -> None:
    pass


async def per_request_us(app, requests: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(requests):
            await app(dict(SCOPE), receive, send)
        best = min(best, (time.process_time() - started) / requests * 1e6)
    return best


async def main(requests: int, log_format: str) -> None:
    config = logging_config(log_format)
    config["handlers"]["stderr"] = {**config["handlers"]["stderr"], "class": "logging.FileHandler",
                                    "filename": "/dev/null"}
    del config["handlers"]["stderr"]["stream"]
    logging.config.dictConfig(config)
    logging.getLogger("fabbooking.requests").setLevel(logging.NOTSET)
    bare = await per_request_us(answer, requests)
    observed = await per_request_us(RequestObserver(answer), requests)
    logging.getLogger("fabbooking.requests").setLevel(logging.WARNING)
    unlogged = await per_request_us(RequestObserver(answer), requests)
    print(f"{log_format}: bare app {bare:.1f} µs; observed {observed:.1f} µs "
          f"(+{observed - bare:.1f} µs a request; without the log line +{unlogged - bare:.1f} µs)")
    logging.getLogger("fabbooking.requests").setLevel(logging.NOTSET)
    await healthz(requests // 5)


HEALTHZ = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
           "path": "/healthz", "raw_path": b"/healthz", "query_string": b"", "root_path": "",
           "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")], "client": ("127.0.0.1", 50000),
           "server": ("127.0.0.1", 8000)}


async def healthz(requests: int) -> None:
    from fabbooking.app import create_app

    app = create_app(use_pool=False, run_usage=False)
    observed_handler = app.asgi_handler

    async def call(scope, receive, send):
        await app(dict(HEALTHZ, headers=list(HEALTHZ["headers"])), receive, send)

    bare = observed = float("inf")
    for _ in range(3):  # in turns, so that neither is always measured first
        app.asgi_handler = observed_handler.app
        bare = min(bare, await per_request_us(call, requests))
        app.asgi_handler = observed_handler
        observed = min(observed, await per_request_us(call, requests))
    print(f"  GET /healthz through Fabbooking's app: {bare:.1f} µs bare, {observed:.1f} µs observed "
          f"(+{observed - bare:.1f} µs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    for log_format in ("text", "json"):
        asyncio.run(main(args.requests, log_format))
