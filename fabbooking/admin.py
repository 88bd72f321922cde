"""Piccolo Admin at /admin: raw records for network admins, instead of hand-written CRUD screens."""

from __future__ import annotations

from litestar import asgi
from litestar.types import Receive, Scope, Send

from fabbooking.accounts.tables import Account, BrowserSession


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
        await app(scope, receive, send)

    return admin
