"""Finding the viewer of a request: a Bearer token for scripts, a session cookie for browsers."""

from __future__ import annotations

from litestar import Request
from litestar.di import NamedDependency

from fabbooking.accounts import services
from fabbooking.accounts.viewer import ANONYMOUS, Viewer
from fabbooking.errors import Refused

SESSION_COOKIE = "fabbooking_session"


async def provide_viewer(request: Request) -> Viewer:
    account_id = None
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused("not_authenticated")
        account_id = await services.account_for_token(token.strip())
        if account_id is None:
            raise Refused("not_authenticated")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        account_id = await services.account_for_session(cookie)
    viewer = await services.viewer_for(account_id) if account_id else None
    viewer = viewer or ANONYMOUS
    request.state.language = viewer.language
    return viewer


def require_login(viewer: Viewer) -> Viewer:
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    return viewer


CurrentViewer = NamedDependency[Viewer]
"""Handlers take ``viewer: CurrentViewer``; the app provides it with provide_viewer."""
