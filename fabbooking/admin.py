"""Piccolo Admin at /admin: raw records for network admins, instead of hand-written CRUD screens.

One login for the whole app: the back office knows the person by the app's own session
(the ``fabbooking_session`` cookie, checked as every page checks it), handed to Piccolo
Admin under the cookie name it reads (``id``: both use the same ``browser_session`` table).
Piccolo Admin's own login form and its in-memory limiter are never reached: its login
endpoint sends people to the app's login page, where the app's throttle applies. Someone
not logged in who opens /admin goes to the login page and comes back; a logged-in person who
is not a network admin gets the app's 403 page.
"""

from __future__ import annotations

from litestar import asgi
from litestar.types import Receive, Scope, Send

from fabbooking.accounts import identify
from fabbooking.accounts.tables import Account, BrowserSession
from fabbooking.api.auth import SESSION_COOKIE
from fabbooking.errors import Refused
from fabbooking.web.guards import LoginNeeded

PICCOLO_SESSION_COOKIE = "id"  # what piccolo_api's SessionsAuthBackend reads
LOGIN_AGAIN = "/login?next=%2Fadmin%2F"


def _cookie_pairs(scope: Scope) -> list[tuple[str, str]]:
    pairs = []
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, content = part.strip().partition("=")
                if key:
                    pairs.append((key, content))
    return pairs


def _with_session_only(scope: Scope, token: str | None) -> Scope:
    """The request as Piccolo Admin sees it: no cookie of its own, only the app's session."""
    pairs = [(k, v) for k, v in _cookie_pairs(scope) if k != PICCOLO_SESSION_COOKIE]
    if token:
        pairs.append((PICCOLO_SESSION_COOKIE, token))
    header = "; ".join(f"{k}={v}" for k, v in pairs).encode("latin-1")
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"cookie"]
    return {**scope, "headers": [*headers, (b"cookie", header)]}  # type: ignore[return-value]


def _sub_path(scope: Scope) -> str:
    path = scope.get("path", "")
    return path[len("/admin"):] if path.startswith("/admin") else path


def admin_mount(tables: list, production: bool) -> object:
    from piccolo_admin.endpoints import create_admin

    app = create_admin(
        tables=tables,
        auth_table=Account,
        session_table=BrowserSession,
        site_name="Fabbooking",
        production=production,
        read_only=False,
    )

    @asgi("/admin", is_mount=True, include_in_schema=False, copy_scope=True)
    async def admin(scope: Scope, receive: Receive, send: Send) -> None:
        path = _sub_path(scope)
        if path.startswith("/public/login"):
            raise LoginNeeded(LOGIN_AGAIN)  # one login form: the app's
        token = dict(_cookie_pairs(scope)).get(SESSION_COOKIE)
        viewer = await identify.viewer_for_session(token) if token else None
        if path in ("", "/"):
            if viewer is None:
                raise LoginNeeded(LOGIN_AGAIN)
            if not viewer.is_admin:
                raise Refused("forbidden")
        await app(_with_session_only(scope, token if viewer is not None else None), receive, send)

    return admin
