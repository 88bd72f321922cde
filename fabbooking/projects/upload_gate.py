"""Uploads are refused before their body is read when the sender may not add to the
project: nobody signed in (401), or not one of its people (403; a project they may not see:
404). Runs in front of the CSRF check and the multipart parser, which would otherwise read
up to 64 MB from anyone before the handler said no."""

from __future__ import annotations

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from fabbooking.api.auth import provide_viewer
from fabbooking.projects import services
from fabbooking.web.guards import LoginNeeded, login_redirect_target


class OnlyProjectPeopleUpload(ASGIMiddleware):
    """For a route with a ``slug`` path parameter that takes uploads to that project; on a
    page (``on_page``), somebody not signed in is sent to the login page, as everywhere."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, on_page: bool = False) -> None:
        self.on_page = on_page

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request = Request(scope)
        viewer = await provide_viewer(request)  # headers and cookies only, not the body
        if self.on_page and not viewer.is_authenticated:
            raise LoginNeeded(login_redirect_target(request))
        await services.editable(viewer, str(scope["path_params"]["slug"]))
        await next_app(scope, receive, send)
