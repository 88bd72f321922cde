"""Prepared queries read what a plain query would read, on both databases — on SQLite they
run on the event loop's own connection (sqlite_pool's quick reads): every commit made before
them, the current transaction's own writes, and nothing another transaction has not committed."""

from __future__ import annotations

import asyncio

import pytest

from fabbooking import database
from fabbooking.network import services as network
from fabbooking.network.tables import Site
from fabbooking.sqlite_pool import PooledSQLiteEngine
from tests.conftest import make_site

pytestmark = pytest.mark.anyio


async def _name(slug: str) -> str | None:
    found = [site["name"] for site in await network.list_sites() if site["slug"] == slug]
    return found[0] if found else None


async def _name_outside_any_transaction(slug: str) -> str | None:
    database.DB.current_transaction.set(None)  # this task's own copy of the context
    return await _name(slug)


async def test_a_prepared_read_sees_every_commit_made_before_it(db):
    assert await _name("atelier") is None
    await make_site("atelier")
    assert await _name("atelier") == "Atelier"
    await Site.update({Site.name: "Atelier renommé"}).where(Site.slug == "atelier")
    assert await _name("atelier") == "Atelier renommé"
    if isinstance(database.DB, PooledSQLiteEngine):
        assert database.DB._readers, "on SQLite the read ran on the loop's own connection"


async def test_a_transaction_reads_its_own_writes_and_nobody_else_does_before_the_commit(db):
    await make_site("atelier")
    async with database.DB.transaction():
        await Site.update({Site.name: "Brouillon"}).where(Site.slug == "atelier")
        assert await _name("atelier") == "Brouillon"
        assert await asyncio.create_task(_name_outside_any_transaction("atelier")) == "Atelier"
    assert await _name("atelier") == "Brouillon"
