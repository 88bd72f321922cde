"""One spelling per username, and no new name that looks like an existing one."""

from __future__ import annotations

import pytest

from fabbooking.accounts.tables import Account
from fabbooking.accounts.usernames import normalise, skeleton
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio

CYRILLIC_ADMIN = "\u0430dmin"  # « а » is CYRILLIC SMALL LETTER A
FULL_WIDTH_ADMIN = "ａｄｍｉｎ"


def test_a_username_has_one_spelling():
    assert normalise(FULL_WIDTH_ADMIN) == "admin"
    assert normalise(" Maïwenn ") == "maïwenn"
    assert normalise("ﬁlou") == "filou"  # the « ﬁ » ligature


def test_look_alike_letters_of_other_alphabets_have_the_same_skeleton():
    assert skeleton(CYRILLIC_ADMIN) == skeleton("\u0391DMIN") == "admin"  # Cyrillic а, Greek Α
    assert skeleton("léa") != skeleton("lea")  # accents are told apart
    assert skeleton("samir_29") == "samir_29"


async def create(client, world, username: str):
    return await client.post("/api/v1/users", headers=world.auth("animator"),
                             json={"username": username, "password": PASSWORD})


@pytest.mark.parametrize(("name", "code"), [(CYRILLIC_ADMIN, "username_look_alike"),
                                            ("\u0430dm\u0456n", "username_look_alike"),  # а and і
                                            (FULL_WIDTH_ADMIN, "username_taken")])
async def test_a_name_that_looks_like_an_existing_one_is_refused_and_nothing_written(client, world, name, code):
    before = await Account.count()
    response = await create(client, world, name)
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert "autre" in response.json()["detail"]
    assert await Account.count() == before


async def test_the_first_of_two_look_alikes_is_kept_and_the_second_refused(client, world):
    assert (await create(client, world, "\u0430nna")).status_code == 201  # Cyrillic а first
    refused = await create(client, world, "anna")
    assert refused.status_code == 409 and refused.json()["code"] == "username_look_alike"


async def test_names_in_other_alphabets_and_with_accents_are_welcome(client, world):
    for name in ("Анна", "Léa", "lea", "maïwenn"):
        response = await create(client, world, name)
        assert response.status_code == 201, (name, response.text)


async def test_a_username_typed_in_full_width_letters_logs_in(client, world):
    response = await client.post("/api/v1/auth/token", json={"username": "ｍａｋｅｒ", "password": PASSWORD})
    assert response.status_code == 201
