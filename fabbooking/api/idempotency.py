"""The ``Idempotency-Key`` header: a POST retried with the key of a request that already
succeeded gets the first answer again and changes nothing.

A client that lost the answer (a 503, a timeout, a dropped connection) cannot know whether
its booking was made; with a key it simply sends the same request again. The answer is kept
in the same transaction as the change, so either both are there or neither is. Refusals are
not kept: nothing was changed, and the request may succeed later. The same key with a
different request is refused (``idempotency_key_reused``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from litestar import Request, Response
from litestar.params import HeaderParameter
from litestar.serialization import encode_json

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.idempotency import answers

Answer = TypeVar("Answer")

IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$",
    description="Any unique string of yours (a UUID is fine), up to 255 visible ASCII "
    "characters. Send the same request again with the same key when you did not get the "
    "answer: if the first one was carried out you get its answer again (for 24 hours) and "
    "nothing is done twice. The same key with a different request is refused with 422 "
    "`idempotency_key_reused`.")]

# the same key sent twice at once: the second waits, then replays; a race on a unique name
# (a project's slug) inside the transaction is run again from the start
ATTEMPTS = 3


def fingerprint(request: Request, data: object) -> str:
    """What makes two requests the same: method, path and the decoded body."""
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(encode_json(data))
    return digest.hexdigest()


async def answer_once(request: Request, viewer: Viewer, key: str | None, data: object,
                      work: Callable[[], Awaitable[Answer]], status_code: int,
                      short: bool = False) -> Response[Any]:
    """``work()``'s answer with ``status_code``; under ``key``, at most once per account.
    ``short``: the work is a short write transaction (see database.write_transaction)."""
    if key is None or not viewer.is_authenticated:
        return Response(await work(), status_code=status_code)
    assert viewer.account_id is not None
    request_print = fingerprint(request, data)
    for attempt in range(ATTEMPTS):
        try:
            async with database.write_transaction(short=short):
                now = datetime.now(UTC)
                kept = await answers.find(viewer.account_id, key, now)
                if kept is not None:
                    if kept.fingerprint != request_print:
                        raise Refused("idempotency_key_reused")
                    return Response(kept.body, status_code=kept.status, media_type="application/json",
                                    headers={"Idempotent-Replayed": "true"})
                claim = await answers.claim(viewer.account_id, key, request_print, now)
                body = encode_json(await work())
                await answers.keep(claim, status_code, body)
        except Exception as exc:
            if attempt + 1 < ATTEMPTS and _raced(exc):
                continue
            raise
        return Response(body, status_code=status_code, media_type="application/json")
    raise AssertionError("unreachable")  # pragma: no cover


def _raced(exc: BaseException) -> bool:
    return is_unique_violation(exc) or type(exc).__name__ == "InFailedSQLTransactionError"
