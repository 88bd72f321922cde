"""``fabbooking migrate --check``: what a deploy script asks before starting the new
version. It applies nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest
from piccolo.apps.migrations.tables import Migration

from tests.conftest import run_cli

pytestmark = pytest.mark.anyio


async def test_check_says_up_to_date_on_a_migrated_database(db):
    result = run_cli("migrate", "--check", url=db.url)
    assert result.returncode == 0
    assert "up to date" in result.stdout


async def test_check_names_the_pending_migration_and_applies_nothing(db):
    last = (await Migration.select().order_by(Migration.id, ascending=False).first())
    await Migration.delete().where(Migration.id == last["id"])
    applied = await Migration.count()
    try:
        result = run_cli("migrate", "--check", url=db.url, check=False)

        assert result.returncode == 1, result.stdout + result.stderr
        assert f"{last['app_name']}:{last['name']}" in result.stdout
        assert "fabbooking migrate" in result.stdout
        assert await Migration.count() == applied
    finally:
        # PostgreSQL's test database lives for the whole run: give the record back, or every
        # later process that migrates would apply that migration again over its tables
        await Migration.insert(Migration(**{k: v for k, v in last.items()}))


def test_check_on_an_empty_database_creates_no_table(tmp_path):
    path = tmp_path / "empty.sqlite3"
    result = run_cli("migrate", "--check", url=f"sqlite:///{path}", check=False)
    assert result.returncode == 1, result.stderr
    assert "accounts:" in result.stdout
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
