"""Finding the viewer of a request: a Bearer token for scripts, a session cookie for browsers."""

from __future__ import annotations

from litestar import Request, Response
from litestar.di import NamedDependency

from fabbooking.accounts import identify
from fabbooking.accounts.viewer import ANONYMOUS, Viewer
from fabbooking.errors import Refused
from fabbooking.references import kept

SESSION_COOKIE = "fabbooking_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600
# Where the page cache leaves the viewer it already found for this request (it looks them up
# before the app runs: they are part of what a page depends on).
VIEWER_FOUND = "fabbooking.viewer"
# The same for the account of the request's Bearer token (read by provide_viewer only: the
# pages know no token).
TOKEN_VIEWER_FOUND = "fabbooking.token_viewer"
# The references' counters (references.kept) a Bearer token was recognised under, for a
# handler whose first write comes after its kept reads (a booking): one reading a request.
REFERENCES_READ = "fabbooking.references_read"


def set_session_cookie(response: Response, token: str, request: Request) -> None:
    """The browser session: HttpOnly, SameSite=Lax, Secure behind HTTPS."""
    from fabbooking.settings import load_settings

    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=SESSION_MAX_AGE_S,
                        secure=request.url.scheme == "https" or load_settings().https)


def client_address(request: Request) -> str:
    """The address the request came from (the real one behind the reverse proxy)."""
    return request.client.host if request.client else "unknown"


async def session_viewer(request: Request) -> Viewer:
    """The account behind the session cookie, or anonymous."""
    found = request.scope.get(VIEWER_FOUND)  # type: ignore[misc]
    if found is not None:
        return found
    token = request.cookies.get(SESSION_COOKIE)
    return (await identify.viewer_for_session(token) if token else None) or ANONYMOUS


async def provide_viewer(request: Request) -> Viewer:
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused("not_authenticated")
        viewer = request.scope.get(TOKEN_VIEWER_FOUND)  # type: ignore[misc]
        if viewer is None:
            references = await kept.counters()
            viewer = await identify.viewer_for_token(token.strip(), references)
            request.scope[REFERENCES_READ] = references  # type: ignore[literal-required]
        if viewer is None:
            raise Refused("not_authenticated")
    else:
        viewer = await session_viewer(request)
    request.state.language = viewer.language
    return viewer


def require_login(viewer: Viewer) -> Viewer:
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    return viewer


CurrentViewer = NamedDependency[Viewer]
"""Handlers take ``viewer: CurrentViewer``; the app provides it with provide_viewer."""
