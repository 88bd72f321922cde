"""A body larger than the server takes is a 413 with a sentence that says what to do — on the
API and on the pages, anonymously too (the API's error handler itself crashed: a 500)."""

from __future__ import annotations

import pytest

from tests.web_helpers import csrf

pytestmark = pytest.mark.anyio

TOO_MUCH = 11 * 1024 * 1024  # Litestar takes 10 MiB outside the upload routes


async def test_an_oversized_api_body_is_a_413_that_says_what_to_do(client, db):
    response = await client.post("/api/v1/auth/token", content=b'{"username": "' + b"a" * TOO_MUCH + b'"}',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large" and "trop gros" in response.json()["detail"]
    english = await client.post("/api/v1/auth/token?lang=en", content=b"x" * TOO_MUCH,
                                 headers={"content-type": "application/json"})
    assert english.status_code == 413 and "too large" in english.json()["detail"]


async def test_an_oversized_form_is_a_413_page(client, db):
    token = await csrf(client, "/login")
    response = await client.post("/login", content=f"_csrf_token={token}&username=".encode() + b"a" * TOO_MUCH,
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert "trop gros" in response.text and "<html" in response.text.lower()
