"""Every response the app sends carries `X-Content-Type-Options: nosniff` and a
Content-Security-Policy that names no other site: pages, API answers and errors, static
files, the API's docs, 404s and 405s outside any route, the back office. The docs page loads
Swagger UI from the app's own files (vendored, with its licence)."""

from __future__ import annotations

import re

import pytest

from fabbooking.web.context import CONTENT_SECURITY_POLICY
from fabbooking.web.routes import STATIC_DIR

pytestmark = pytest.mark.anyio

ADDRESSES = [
    ("GET", "/", 200), ("GET", "/api/v1/sites", 200), ("GET", "/api/v1/users/me", 401),
    ("GET", "/api/v1/machines/999999", 404), ("GET", "/api/v1/machines/1/availability?start=x&end=y", 422),
    ("POST", "/api/v1/bookings", 422), ("GET", "/nowhere/at/all", 404), ("DELETE", "/healthz", 405),
    ("GET", "/healthz", 200), ("GET", "/static/app.css", 200), ("GET", "/static/htmx.min.js", 200),
    ("GET", "/static/missing.js", 404), ("GET", "/schema", 200), ("GET", "/schema/openapi.json", 200),
    ("GET", "/schema/swagger", 200), ("GET", "/static/swagger-ui/swagger-ui-bundle.js", 200),
    ("GET", "/machines/999999", 404), ("GET", "/admin/", 303),  # to the app's login
]


@pytest.mark.parametrize(("method", "address", "status"), ADDRESSES, ids=[f"{m} {a}" for m, a, _ in ADDRESSES])
async def test_every_kind_of_response_has_nosniff_and_a_policy_naming_no_other_site(client, world, method,
                                                                                     address, status):
    response = await client.request(method, address)
    assert response.status_code == status, response.text[:200]
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert not re.search(r"https?:|\*", policy)
    if not address.startswith("/admin"):
        assert policy == CONTENT_SECURITY_POLICY


async def test_the_back_office_page_itself_has_nosniff_and_a_policy_naming_no_other_site(client, world):
    from tests.web_helpers import browser_login

    await browser_login(client, "admin")
    response = await client.get("/admin/")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy
    assert not re.search(r"https?:|\*", policy)


async def test_the_api_docs_page_uses_only_our_vendored_files(client, world):
    page = (await client.get("/schema")).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/static/swagger-ui/") or a == "/schema/openapi.json" for a in assets)
    assert "<script>" not in page and "style=" not in page  # nothing inline for the policy to refuse
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
    assert (await client.get("/static/swagger-ui/start.js")).headers["content-type"].startswith("text/javascript")
    assert "Apache License" in (STATIC_DIR / "swagger-ui" / "LICENSE").read_text()
