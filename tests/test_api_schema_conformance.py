"""The OpenAPI document tells the truth: schemathesis sends every API operation generated
valid and invalid requests (every phase and check of ``st run --checks all``), anonymously
and with a maker's token, on SQLite and PostgreSQL, and no answer is a 5xx or contradicts
/schema/openapi.json (status, content type, headers, body). Bounded and repeatable: a fixed
seed, derandomised, a few examples per operation; a new endpoint is covered by itself.

``FABBOOKING_SCHEMA_EXAMPLES`` raises the number of examples for a longer hunt."""

from __future__ import annotations

import asyncio
import os

import anyio.to_thread
import pytest

from tests.schema_conformance import LoopBridge, run

pytestmark = pytest.mark.anyio

EXAMPLES = int(os.environ.get("FABBOOKING_SCHEMA_EXAMPLES", "5"))


@pytest.mark.parametrize("who", ["anonymous", "maker"])
async def test_every_answer_is_what_the_schema_says(db, app, world, who):
    headers = world.auth(who) if who != "anonymous" else {}
    bridge = LoopBridge(app, asyncio.get_running_loop())
    outcome = await anyio.to_thread.run_sync(
        lambda: run(bridge, headers=headers, max_examples=EXAMPLES))
    assert outcome.cases > 100, f"schemathesis sent only {outcome.cases} requests"
    assert not outcome.failures, outcome.report()


async def test_allow_names_every_method_of_an_address(client, world):
    """OPTIONS at /api/v1/machines said `OPTIONS, POST` (Litestar's own answer forgets the
    GET of the same address); a 405, page or API, said nothing."""
    options = await client.options("/api/v1/machines")
    assert set(options.headers["allow"].split(", ")) == {"GET", "OPTIONS", "POST"}
    page = await client.delete(f"/machines/{world.ids['printer']}")
    assert page.status_code == 405 and "<html" in page.text.lower()
    assert set(page.headers["allow"].split(", ")) == {"GET", "OPTIONS"}


@pytest.mark.parametrize(("text", "code"), [
    ("2026-03-14T09:00:00+01:00", None), ("2026-03-14T09:00:00 01:00", None),  # « + » decoded as a space
    ("2026-03-14T09:00Z", None), ("2026-03-14T09:00:00.5-05:30", None),
    ("2026-03-14T09:00:00", "naive_datetime"), ("2026-03-14", "naive_datetime"),
    ("0", "invalid_datetime"), ("0000-01-01T00:00Z", "invalid_datetime"), (" 2026-03-14T09:00Z", "invalid_datetime"),
    ("20260314T0900+0100", "invalid_datetime"),  # Python reads it; the document does not say so
    ("2026-02-30T09:00Z", "invalid_datetime"),  # the pattern allows it; the calendar does not
])
def test_the_moments_the_document_describes_are_those_the_api_reads(text, code):
    import re

    from fabbooking.api.moments import MOMENT_PATTERN, parse_moment
    from fabbooking.errors import Refused

    if code is None:
        assert re.match(MOMENT_PATTERN, text) and parse_moment("start", text).tzinfo is not None
        return
    with pytest.raises(Refused) as refused:
        parse_moment("start", text)
    assert refused.value.code == code
