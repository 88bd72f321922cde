"""Piccolo Admin at /admin: raw records for network admins only."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


async def admin_login(client, username: str) -> int:
    await client.get("/admin/")
    csrf = client.cookies.get("csrftoken")
    response = await client.post("/admin/public/login/", json={"username": username, "password": PASSWORD},
                                 headers={"X-CSRFToken": csrf})
    return response.status_code


async def test_back_office_lists_every_table_for_a_network_admin(client, world):
    assert (await client.get("/admin/")).status_code == 200
    assert await admin_login(client, "admin") == 200
    tables = await client.get("/admin/api/tables/")
    assert tables.status_code == 200
    assert {"booking", "machine", "site", "account", "qualification"} <= set(tables.json())


@pytest.mark.parametrize("who", ["maker", "animator"])
async def test_back_office_stays_closed_to_makers_and_animators(client, world, who):
    assert (await client.get("/admin/api/tables/")).status_code == 401
    await admin_login(client, who)
    assert (await client.get("/admin/api/tables/")).status_code == 401
