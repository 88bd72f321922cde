"""Before every web page: who is looking and in which language; after it: safety headers."""

from __future__ import annotations

from litestar import Request, Response

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


async def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
