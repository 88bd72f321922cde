"""Drive schemathesis over the app in-process, on the test's database.

Schemathesis calls an ASGI app from its own event-loop thread; the database pool of the
``db`` fixture lives on the test's loop. ``LoopBridge`` is the ASGI app schemathesis sees:
it reads the whole request, runs the real app on the test's loop and replays its answer.
``run`` executes every phase of ``st run --checks all`` (examples, coverage, fuzzing,
stateful) with a fixed seed, derandomised, a bounded number of examples per operation,
and returns what failed, operation by operation.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

SEED = 20261205
SAMPLE_CHARS = int(os.environ.get("SAMPLE_CHARS", "300"))  # of each failing request, in the report

# positive_data_acceptance expects a 2xx for every request the schema allows; ours answer 422
# with a rule's code to requests no schema can rule out (a booking in the past, a closing
# hour before the opening one, 30 February). `input_the_schema_allows_is_read` below keeps
# the check's point: a request the schema allows is never refused for its *shape*.
REPLACED_CHECKS = ("positive_data_acceptance",)
SHAPE_CODES = frozenset({"invalid_input", "naive_datetime", "json_only"})


@schemathesis.check
def input_the_schema_allows_is_read(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request generated from the schema (positive data) is never answered 400, 415 or a
    422 whose code says the input's shape is wrong: the schema would be hiding a rule."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    code = None
    if response.status_code == 422:
        try:
            code = json.loads(response.content).get("code")
        except (ValueError, AttributeError):
            code = None
    if response.status_code in (400, 415) or code in SHAPE_CODES:
        raise AssertionError(f"Input the schema allows was refused: {response.status_code} "
                             f"{response.content[:300].decode(errors='replace')}")
    return None


class LoopBridge:
    """An ASGI app that hands each request to ``app`` on ``loop`` and replays its answer."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the app under test is the fixture's, already set up
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        messages: list[dict] = []
        delivered = False

        async def app_receive() -> dict:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def app_send(message: dict) -> None:
            messages.append(message)

        future = asyncio.run_coroutine_threadsafe(self.app(dict(scope), app_receive, app_send), self.loop)
        await asyncio.wrap_future(future)
        for message in messages:
            await send(message)


@dataclass
class Outcome:
    """What one run found: check failures and errors by operation, and how much it sent."""

    failures: dict[str, set[str]]
    cases: int

    def report(self) -> str:
        lines = [f"{len(self.failures)} operation(s) do not answer as /schema/openapi.json says:"]
        for label in sorted(self.failures):
            lines.append(f"  {label}")
            lines.extend(f"    - {failure}" for failure in sorted(self.failures[label]))
        return "\n".join(lines)


def run(bridge: LoopBridge, *, headers: dict[str, str], max_examples: int,
        excluded_checks: tuple[str, ...] = ()) -> Outcome:
    """Every phase and check of ``st run --checks all``, bounded and repeatable. Blocking:
    call it from a worker thread while the test's loop serves the bridge."""
    settings: dict[str, Any] = {
        "seed": SEED,
        "cache": {"enabled": False},
        "workers": 1,
        "headers": headers,
        "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
        "checks": {name: {"enabled": False} for name in (*REPLACED_CHECKS, *excluded_checks)},
        # the bridge answers in-process: no network, so no request ever times out on its own
        "request-timeout": 30,
    }
    document = schemathesis.openapi.from_asgi("/schema/openapi.json", bridge).raw_schema
    settings["operations"] = [
        # A multipart form carries every value as text: `cover=0` is a boolean written as a
        # form writes it, not a « wrong type ». Schemathesis allows for that in paths and
        # queries, not yet in multipart bodies, so its negative check would call it accepted
        # invalid data. Every other check still runs on these operations.
        {"include-path": path, "include-method": method.upper(),
         "checks": {"negative_data_rejection": {"enabled": False}}}
        for path, methods in document.get("paths", {}).items() for method, operation in methods.items()
        if isinstance(operation, dict)
        and set(operation.get("requestBody", {}).get("content", {})) == {"multipart/form-data"}
    ]
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", bridge,
                                            config=SchemathesisConfig.from_dict(settings))
    failures: dict[str, set[str]] = defaultdict(set)
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            if event.status not in (Status.FAILURE, Status.ERROR):
                continue
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failures[event.recorder.label].add(_describe(check.name, check.failure_info))
        elif isinstance(event, events.FuzzScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        operation = check.failure_info.failure.operation or "fuzzing"
                        failures[operation].add(_describe(check.name, check.failure_info))
        elif isinstance(event, events.NonFatalError):
            failures[event.label].add(f"error: {type(event.value).__name__}: {event.value}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return Outcome(dict(failures), cases)


def _describe(check: str, info: Any) -> str:
    """The check, what it says, and the request that shows it (as curl)."""
    failure = info.failure
    said = " / ".join(line.strip() for line in str(failure.message).splitlines() if line.strip())
    return f"{check}: {failure.title} — {said[:400]}\n        {str(info.code_sample)[:SAMPLE_CHARS]}"
