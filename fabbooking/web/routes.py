"""The web pages' router (who is looking), and the static files."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.htmx import HTMXRequest
from litestar.static_files import create_static_files_router

from fabbooking.accounts.pages import AccountPages
from fabbooking.web.context import resolve_viewer
from fabbooking.web.desk import DeskPages
from fabbooking.web.maker import MakerPages
from fabbooking.web.manage import ManagePages
from fabbooking.web.public import PublicPages

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
from fabbooking.figures import routes as figures_routes  # noqa: E402
from fabbooking.notifications.pages import EmailPages, OutboxPage  # noqa: E402
from fabbooking.projects import routes as projects_routes  # noqa: E402
from fabbooking.schedule import routes as schedule_routes  # noqa: E402
from fabbooking.waiting.pages import WaitingPages  # noqa: E402
from fabbooking.workshops import routes as workshops_routes  # noqa: E402

PAGE_CONTROLLERS: list = [
    PublicPages, MakerPages, ManagePages, DeskPages, AccountPages,
    *projects_routes.PAGE_CONTROLLERS, *workshops_routes.PAGE_CONTROLLERS,
    *figures_routes.PAGE_CONTROLLERS, *schedule_routes.PAGE_CONTROLLERS, EmailPages, OutboxPage,
    WaitingPages,
]


def web_router() -> Router:
    return Router(
        path="/",
        route_handlers=PAGE_CONTROLLERS,
        before_request=resolve_viewer,
        request_class=HTMXRequest,
        include_in_schema=False,
    )


def static_router() -> Router:
    return create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=7 * 24 * 3600, public=True),
        include_in_schema=False,
    )
