"""Before every web page: who is looking and in which language; before every response the
app sends: safety headers."""

from __future__ import annotations

from litestar import Request
from litestar.types import Message, Scope

from fabbooking.api.auth import session_viewer
from fabbooking.api.hostile_input import refuse_impossible_ids
from fabbooking.messages import choose_language
from fabbooking.web.i18n import LANGUAGE_COOKIE, current_language

# No inline script or style anywhere: htmx is configured by a <meta> tag, not by script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


async def resolve_viewer(request: Request) -> None:
    await refuse_impossible_ids(request)
    viewer = await session_viewer(request)
    request.state.viewer = viewer
    language = choose_language(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        viewer.language,
        request.headers.get("accept-language"),
    )
    request.state.language = language
    current_language.set(language)


# Piccolo Admin's single-page app (not ours) sets inline styles; everything else stays strict.
BACK_OFFICE_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
# as ASGI sends them: lower-case names, bytes
_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_BACK_OFFICE_HEADERS = [(name, BACK_OFFICE_POLICY.encode() if name == b"content-security-policy" else value)
                        for name, value in _HEADERS]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """On every response the app sends — pages, API, static files, the API's docs, errors,
    404s outside any route — the safety headers it has not set itself."""
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers")
    if not isinstance(headers, list):  # the raw (name, value) pairs, added to in place
        headers = message["headers"] = list(headers or ())  # type: ignore[typeddict-item]
    present = {name.lower() for name, _ in headers}
    # the path as asked: a mounted app (/admin) sees its own part of it
    back_office = bytes(scope.get("raw_path") or scope.get("path", "").encode()).startswith(b"/admin")
    for name, value in (_BACK_OFFICE_HEADERS if back_office else _HEADERS):
        if name not in present:
            headers.append((name, value))
