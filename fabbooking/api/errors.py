"""Every error leaves the API as {code, detail}: a stable code and a sentence a person can act on."""

from __future__ import annotations

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from fabbooking.api.hostile_input import invalid_value
from fabbooking.errors import Refused
from fabbooking.messages import choose_language, render
from fabbooking.outage import OUTAGE, RETRY_AFTER_S, is_database_unavailable

log = logging.getLogger("fabbooking")


class ErrorBody(msgspec.Struct):
    code: str
    detail: str


_DESCRIPTIONS = {
    401: "Not logged in: send `Authorization: Bearer <token>` (code `not_authenticated`).",
    403: "Not allowed: not qualified, not staff of the site, not yours…",
    404: "Not found (or not yours to see).",
    409: "Conflict: the slot is taken (`overlap`, `too_close`), or the name is taken.",
    422: "Input or a booking rule refused the request; `code` says which rule.",
    415: "The body is not JSON (`json_only`): send `Content-Type: application/json`.",
    429: "Too many password attempts (`too_many_attempts`); `Retry-After` says when to try again.",
}
UNAVAILABLE = ("The database does not answer for now (`unavailable`): try again after `Retry-After` "
               "seconds, with the same `Idempotency-Key` where the operation takes one.")


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the errors an endpoint may answer with."""
    return {
        s: ResponseSpec(data_container=ErrorBody, description=_DESCRIPTIONS[s],
                        generate_examples=False)
        for s in statuses
    }


def request_language(request: Request) -> str:
    return choose_language(request.query_params.get("lang"), request.cookies.get("lang"),
                           getattr(request.state, "language", None), request.headers.get("accept-language"))


def _body(request: Request, http_status: int, code: str, /, **params: object) -> Response[ErrorBody]:
    """The error's body; ``params`` fill its sentence (one of them may be called « status »)."""
    detail = render(code, request_language(request), **params)
    headers = {"WWW-Authenticate": "Bearer"} if http_status == 401 else {}
    if "retry_after" in params:
        headers["Retry-After"] = str(params["retry_after"])
    return Response(ErrorBody(code=code, detail=detail), status_code=http_status, headers=headers)


def refused_handler(request: Request, exc: Refused) -> Response[ErrorBody]:
    return _body(request, exc.status, exc.code, **exc.params)


def validation_handler(request: Request, exc: ValidationException) -> Response[ErrorBody]:
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = item.get("key") or item.get("source") or ""
            problems.append(f"{key}: {item.get('message', '')}".strip(": "))
    if not problems:
        problems.append(str(exc.detail))
    text = "; ".join(problems)
    if "timezone" in text:
        return _body(request, 422, "naive_datetime", field=text.split(":")[0])
    return _body(request, 422, "invalid_input", problems=text)


def http_handler(request: Request, exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    if status == 404:
        return _body(request, 404, "not_found", what_fr="cette adresse", what_en="this address")
    if status == 405:  # `Allow` names the methods this address answers (RFC 9110)
        response = _body(request, 405, "method_not_allowed")
        if allowed := allowed_methods(exc):
            response.set_header("Allow", allowed)
        return response
    if status == 401:
        return _body(request, 401, "not_authenticated")
    if status == 403:
        return _body(request, 403, "forbidden")
    if status == 400:
        return _body(request, 422, "invalid_input", problems=str(exc.detail))
    if status == 413:
        return _body(request, 413, "too_large")
    if status >= 500:
        return server_error_handler(request, exc)
    return _body(request, status, "http_error", status=status)


def allowed_methods(exc: HTTPException) -> str | None:
    """The `Allow` header Litestar's router gives a 405 (our handlers build their own answer)."""
    return next((value for name, value in (exc.headers or {}).items() if name.lower() == "allow"), None)


def unavailable_handler(request: Request, exc: Exception) -> Response[ErrorBody]:
    OUTAGE.noticed(exc)
    response = _body(request, 503, "unavailable")
    response.set_header("Retry-After", str(RETRY_AFTER_S))
    return response


def server_error_handler(request: Request, exc: Exception) -> Response[ErrorBody]:
    if is_database_unavailable(exc):
        return unavailable_handler(request, exc)
    if (refused := invalid_value(exc)) is not None:
        return refused_handler(request, refused)
    # the route, not the path: a path can hold a secret (a private calendar feed's token)
    log.exception("unexpected error on %s %s", request.method, request.scope.get("path_template", "?"), exc_info=exc)
    return _body(request, 500, "server_error")


EXCEPTION_HANDLERS = {
    Refused: refused_handler,
    ValidationException: validation_handler,
    HTTPException: http_handler,
    Exception: server_error_handler,
}
