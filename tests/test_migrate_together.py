"""Several processes starting together on a new (or just upgraded) database — three
``serve`` on three hosts and a ``worker``, all started by systemd at boot — each apply the
pending migrations first. They take turns: every one starts, and each migration is applied
once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys

import asyncpg
import pytest

from tests.conftest import ROOT, create_postgres_database, drop_postgres_database, postgres_url

pytestmark = pytest.mark.slow
TOGETHER = 3


def migrate_together(url: str, folder) -> None:
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, "FABBOOKING_VAR_DIR": str(folder)}
    processes = [subprocess.Popen([sys.executable, "-m", "fabbooking", "migrate"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(TOGETHER)]
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        assert "Traceback" not in output, output


def test_processes_migrating_a_new_sqlite_database_together_take_turns(tmp_path):
    path = tmp_path / "fabbooking.sqlite3"
    migrate_together(f"sqlite:///{path}", tmp_path)
    with sqlite3.connect(path) as connection:
        applied = connection.execute("SELECT app_name || ':' || name FROM migration").fetchall()
    assert len(applied) == len(set(applied)) > 10


@pytest.mark.postgres
def test_processes_migrating_a_new_postgres_database_together_take_turns(tmp_path):
    name = create_postgres_database()
    try:
        url = postgres_url(name)
        migrate_together(url, tmp_path)

        async def applied() -> list[str]:
            connection = await asyncpg.connect(url)
            try:
                return [r["m"] for r in await connection.fetch("SELECT app_name || ':' || name AS m FROM migration")]
            finally:
                await connection.close()

        names = asyncio.run(applied())
        assert len(names) == len(set(names)) > 10
    finally:
        drop_postgres_database(name)
