"""A POST sent again with its Idempotency-Key gets the first answer and changes nothing:
bookings, projects, workshop registrations; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.api import idempotency
from fabbooking.bookings.tables import Booking
from fabbooking.idempotency.answers import forget_old_answers
from fabbooking.idempotency.tables import FirstAnswer
from fabbooking.projects.tables import Project
from fabbooking.workshops.tables import Registration
from tests.conftest import booking_body, qualify
from tests.workshops_support import plan_body

pytestmark = pytest.mark.anyio


def keyed(world, who: str, key: str | bytes) -> dict:
    return {**world.auth(who), "Idempotency-Key": key}


async def test_a_booking_sent_twice_with_its_key_is_made_once(client, world):
    body = booking_body(world.ids["printer"])
    first = await client.post("/api/v1/bookings", json=body, headers=keyed(world, "maker", "k-1"))
    again = await client.post("/api/v1/bookings", json=body, headers=keyed(world, "maker", "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await Booking.count() == 1


async def test_without_a_key_a_second_booking_is_refused_as_taken(client, world):
    body = booking_body(world.ids["printer"])
    assert (await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))).status_code == 201
    again = await client.post("/api/v1/bookings", json=body, headers=world.auth("maker"))
    assert again.status_code == 409


async def test_the_same_key_with_another_request_is_refused_and_writes_nothing(client, world):
    first = booking_body(world.ids["printer"], start="10:00")
    other = booking_body(world.ids["printer"], start="12:00")
    assert (await client.post("/api/v1/bookings", json=first, headers=keyed(world, "maker", "k"))).status_code == 201
    reused = await client.post("/api/v1/bookings", json=other, headers=keyed(world, "maker", "k"))
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in reused.json()["detail"]
    assert await Booking.count() == 1


async def test_keys_belong_to_their_account(client, world):
    await qualify(world.ids["animator"], world.ids["print"])
    mine = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"], start="10:00"),
                             headers=keyed(world, "maker", "shared"))
    theirs = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"], start="12:00"),
                               headers=keyed(world, "animator", "shared"))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_a_refusal_is_not_kept_so_the_key_can_succeed_later(client, world):
    body = booking_body(world.ids["printer"])
    refused = await client.post("/api/v1/bookings", json=body, headers=keyed(world, "newbie", "k"))
    assert refused.status_code == 403
    assert await FirstAnswer.count() == 0
    await qualify(world.ids["newbie"], world.ids["print"])
    later = await client.post("/api/v1/bookings", json=body, headers=keyed(world, "newbie", "k"))
    assert later.status_code == 201
    assert await FirstAnswer.count() == 1


async def test_the_same_key_sent_twice_at_once_makes_one_booking(client, world):
    body = booking_body(world.ids["printer"])
    answers = await asyncio.gather(*[
        client.post("/api/v1/bookings", json=body, headers=keyed(world, "maker", "together"))
        for _ in range(2)])
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert await Booking.count() == 1


async def test_an_answer_that_cannot_be_kept_undoes_the_booking(client, world, monkeypatch):
    async def lost(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(idempotency.answers, "keep", lost)
    answer = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]),
                               headers=keyed(world, "maker", "k"))
    assert answer.status_code == 500
    assert await Booking.count() == 0
    assert await FirstAnswer.count() == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "clé-é".encode(), "two words"])
async def test_an_unusable_key_is_a_clear_422(client, world, key):
    answer = await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"]),
                               headers=keyed(world, "maker", key))
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"
    assert await Booking.count() == 0


async def test_a_project_sent_twice_with_its_key_is_created_once(client, world):
    body = {"title": "Lampe de chevet", "summary": "Une lampe en contreplaqué"}
    first = await client.post("/api/v1/projects", json=body, headers=keyed(world, "maker", "p"))
    again = await client.post("/api/v1/projects", json=body, headers=keyed(world, "maker", "p"))
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["slug"] == first.json()["slug"]
    assert await Project.count() == 1


async def test_a_registration_sent_twice_with_its_key_is_made_once(client, world):
    workshop = (await client.post("/api/v1/workshops", json=plan_body(registration=True, capacity=5),
                                  headers=world.auth("animator"))).json()
    url = f"/api/v1/workshops/{workshop['id']}/registrations"
    first = await client.post(url, json={"name": "Awa"}, headers=keyed(world, "animator", "r"))
    again = await client.post(url, json={"name": "Awa"}, headers=keyed(world, "animator", "r"))
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert await Registration.count() == 1


async def test_answers_are_forgotten_after_a_day(client, world):
    body = booking_body(world.ids["printer"])
    await client.post("/api/v1/bookings", json=body, headers=keyed(world, "maker", "old"))
    await client.post("/api/v1/bookings", json=booking_body(world.ids["printer"], start="12:00"),
                      headers=keyed(world, "maker", "new"))
    day_ago = datetime.now(UTC) - timedelta(hours=25)
    await FirstAnswer.update({FirstAnswer.created_at: day_ago}).where(FirstAnswer.scoped_key.like("%:old"))
    # a key past its day is free again: the request is carried out anew (here: refused, taken)
    late = await client.post("/api/v1/bookings", json=body, headers=keyed(world, "maker", "old"))
    assert late.status_code == 409
    await FirstAnswer.update({FirstAnswer.created_at: day_ago}).where(FirstAnswer.scoped_key.like("%:old"))
    await forget_old_answers(datetime.now(UTC))
    assert [r["scoped_key"] for r in await FirstAnswer.select(FirstAnswer.scoped_key)] == [
        f"{world.ids['maker']}:new"]


def test_the_header_is_documented_on_each_operation(app):
    paths = app.openapi_schema.to_schema()["paths"]
    for path in ("/api/v1/bookings", "/api/v1/projects", "/api/v1/workshops/{workshop_id}/registrations"):
        parameters = paths[path]["post"]["parameters"]
        assert [p["in"] for p in parameters if p["name"] == "Idempotency-Key"] == ["header"], path



def test_every_api_operation_documents_503_with_retry_after(app):
    paths = app.openapi_schema.to_schema()["paths"]
    operations = [(path, method, op) for path, item in paths.items() if path.startswith("/api/")
                  for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")]
    assert len(operations) > 40
    for path, method, operation in operations:
        unavailable = operation["responses"]["503"]
        assert unavailable["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert "Retry-After" in unavailable["headers"], (method, path)
