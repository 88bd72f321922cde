"""Who may open which page; a person who is not logged in is sent to the login page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.exceptions import HTTPException

from fabbooking.accounts.viewer import Viewer
from fabbooking.network import services as network


class LoginNeeded(HTTPException):
    status_code = 401

    def __init__(self, next_url: str) -> None:
        super().__init__(detail="login needed")
        self.next_url = next_url


def login_redirect_target(request: Request) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(path, safe='')}"


def signed_in(request: Request) -> Viewer:
    viewer: Viewer = request.state.viewer
    if not viewer.is_authenticated:
        raise LoginNeeded(login_redirect_target(request))
    return viewer


async def desk_site(request: Request, slug: str) -> dict[str, Any]:
    """The site, if the signed-in viewer runs its desk (its animators, and admins)."""
    site = await network.get_site(slug)
    network.require_staff(signed_in(request), site["id"])
    return site
