"""What no request may carry, dealt with at the edge before any handler runs — so that
nothing is half-written and no database driver meets it.

- A NUL character is dropped from the query and from JSON and form bodies: no text of ours
  holds one, and PostgreSQL refuses it outright (a 500 at the first query, after whatever was
  written before it). One cleaning rule for every text field, as the projects' and
  workshops' own cleaning already did. File uploads (multipart) are left alone: their files
  are bytes. A path with a NUL names nothing (404).
- A row id in the path that no row can have (past 2**31 - 1, PostgreSQL's integer) names
  nothing: the driver would fail on it instead of finding nothing.
- JSON nested deeper than a decoder can follow (100,000 « [ »), and ids too large for the
  database anywhere else in the input, are turned into 422 by ``invalid_value`` as a net.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fabbooking.errors import Refused
from fabbooking.ids import is_id

BODY_LIMIT = 10 * 1024 * 1024  # Litestar's own limit for the bodies read here
_JSON, _FORM = b"application/json", b"application/x-www-form-urlencoded"
# « \u0000 » in JSON text, unless its backslash is itself escaped (« \\u0000 » is text)
_JSON_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def without_nul_in_json(body: bytes) -> bytes:
    if b"\\u0000" not in body and b"\x00" not in body:  # nearly always: two scans, no copy
        return body
    return _JSON_NUL.sub(rb"\1", body).replace(b"\x00", b"")


def without_nul_in_form(body: bytes) -> bytes:
    return body.replace(b"%00", b"").replace(b"\x00", b"")


class DropNulCharacters(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if "\x00" in scope["path"]:
            raise Refused.not_found("cette adresse", "this address")
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            scope = {**scope, "query_string": without_nul_in_form(query)}  # type: ignore[assignment]
        content_type = next((value for name, value in scope.get("headers", ()) if name == b"content-type"),
                            b"").split(b";")[0].strip().lower()
        if content_type in (_JSON, _FORM):
            body = await _read_body(receive)
            clean = without_nul_in_json(body) if content_type == _JSON else without_nul_in_form(body)
            receive = _replay(clean)
        await next_app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            raise HTTPException(status_code=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def refuse_impossible_ids(request: Request) -> None:
    """A path's id (``/machines/{machine_id:int}`` …) that no row can have names nothing."""
    for value in request.path_params.values():
        if isinstance(value, int) and not isinstance(value, bool) and not is_id(value):
            raise Refused.not_found("cette adresse", "this address")


def invalid_value(exc: BaseException) -> Refused | None:
    """An input the database or the decoder could not take, seen too late: 422, not 500."""
    if isinstance(exc, RecursionError):
        return Refused("invalid_input", problems="le JSON est imbriqué trop profondément",
                       problems_en="the JSON is nested too deeply")
    if isinstance(exc, OverflowError) or _out_of_range(exc):
        return Refused("invalid_input", problems="un nombre est trop grand", problems_en="a number is too large")
    if type(exc).__name__ in ("CharacterNotInRepertoireError", "UntranslatableCharacterError"):
        return Refused("invalid_input", problems="un caractère nul (\\0) n'a rien à faire dans un texte",
                       problems_en="a NUL character (\\0) has no place in a text")
    return None


def _out_of_range(exc: BaseException) -> bool:
    text: Any = str(exc)
    return type(exc).__name__ in ("DataError", "NumericValueOutOfRangeError") and "out of" in text and "range" in text
