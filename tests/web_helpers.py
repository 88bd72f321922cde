"""Helpers for tests that use the web pages as a browser would (without a browser)."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD


async def browser_login(client, username: str, password: str = PASSWORD) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text


async def csrf(client, page: str = "/") -> str:
    """The CSRF token a form on ``page`` would carry."""
    await client.get(page)
    return client.cookies.get("fabbooking_csrf")


async def submit(client, url: str, form: dict, page: str = "/", **kwargs):
    """POST a form the way a browser does, with its CSRF field."""
    return await client.post(url, data={"_csrf_token": await csrf(client, page), **form}, **kwargs)


def free_cell_links(html: str) -> list[str]:
    return re.findall(r'class="free" href="([^"]+)"', html)
