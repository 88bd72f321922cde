"""After `fabbooking demo`, a maker goes through the whole API flow (issue « done when »)."""

from datetime import datetime, timedelta

import pytest

from fabbooking.demo import DEMO_PASSWORD
from tests.conftest import run_cli

pytestmark = pytest.mark.anyio


async def login(client, username):
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def first_free_hour(client, machine_id, days=10):
    start = datetime.now().astimezone() + timedelta(days=1)
    end = start + timedelta(days=days)
    response = await client.get(f"/api/v1/machines/{machine_id}/availability",
                                params={"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 200
    free = [f for f in response.json()["free"]
            if datetime.fromisoformat(f["end"]) - datetime.fromisoformat(f["start"]) >= timedelta(hours=1)]
    begin = datetime.fromisoformat(free[0]["start"])
    return begin.isoformat(), (begin + timedelta(hours=1)).isoformat()


async def test_maker_books_is_refused_for_clear_reasons_and_cancels_after_demo(client, db):
    run_cli("demo", url=db.url)
    maiwenn = await login(client, "maiwenn")
    lea = await login(client, "lea")

    sites = (await client.get("/api/v1/sites")).json()
    assert len(sites) >= 4 and any(s["kind"] == "papifab" for s in sites)
    machines = (await client.get("/api/v1/machines", params={"site": "papifab-kerourien"})).json()
    laser = next(m for m in machines if m["kind"] == "laser_cutter")

    start, end = await first_free_hour(client, laser["id"])
    body = {"machine_id": laser["id"], "start": start, "end": end}

    refused = await client.post("/api/v1/bookings", json=body, headers=lea)
    assert refused.status_code == 403 and refused.json()["code"] == "not_qualified"

    booked = await client.post("/api/v1/bookings", json=body, headers=maiwenn)
    assert booked.status_code == 201, booked.text

    yannick = await login(client, "yannick")
    taken = await client.post("/api/v1/bookings", json=body, headers=yannick)
    assert taken.status_code in (403, 409)  # yannick has no laser training either
    await client.post("/api/v1/qualifications", headers=await login(client, "nolwenn"),
                      json={"maker_id": (await client.get("/api/v1/users/me", headers=yannick)).json()["id"],
                            "training_id": laser["required_training_id"]})
    taken = await client.post("/api/v1/bookings", json=body, headers=yannick)
    assert taken.status_code == 409 and taken.json()["code"] == "overlap"

    night = datetime.fromisoformat(start).replace(hour=23, minute=0)
    late = await client.post("/api/v1/bookings", headers=maiwenn, json={
        "machine_id": laser["id"], "start": night.isoformat(),
        "end": (night + timedelta(minutes=30)).isoformat()})
    assert late.status_code == 422 and late.json()["code"] == "outside_opening_hours"

    cancelled = await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=maiwenn)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
