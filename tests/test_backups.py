"""``fabbooking backup`` and ``restore`` as an operator runs them: the demo network saved and
put back, on SQLite and PostgreSQL, every row and every media file identical; refusals
that leave the target as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
    run_blocking,
    run_cli,
)

pytestmark = pytest.mark.anyio


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            names = [r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            return {name: sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
                    for name in names}

    async def read() -> dict[str, list[tuple]]:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            names = [r["tablename"] for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            return {name: sorted((tuple(r) for r in await connection.fetch(f'SELECT * FROM "{name}"')), key=repr)
                    for name in names}
        finally:
            await connection.close()

    return run_blocking(read())


def media_hashes(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def empty_target(db, tmp_path):
    """An empty database of the same kind as ``db``."""
    if db.kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = create_postgres_database()
    try:
        yield postgres_url(name)
    finally:
        drop_postgres_database(name)


def triggers(url: str, prefix: str) -> int:
    """How many triggers named ``prefix``… the database holds, enabled."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                      "AND name LIKE ?", (f"{prefix}%",)).fetchone()[0]

    async def count() -> int:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval("SELECT count(*) FROM pg_trigger WHERE tgname LIKE $1 "
                                             "AND tgenabled IN ('O', 'A')", f"{prefix}%")
        finally:
            await connection.close()

    return run_blocking(count())


def media(path: Path) -> dict[str, str]:
    return {"FABBOOKING_MEDIA_DIR": str(path)}


async def test_the_demo_survives_a_backup_and_a_restore(db, empty_target, tmp_path):
    source_media = tmp_path / "media"
    run_cli("demo", url=db.url, extra_env=media(source_media))
    archive = tmp_path / "network.tar.gz"

    saved = run_cli("backup", str(archive), url=db.url, extra_env=media(source_media))
    assert str(archive) in saved.stdout

    # the new server was started once already: migrated, empty
    run_cli("migrate", url=empty_target)
    restored = run_cli("restore", str(archive), url=empty_target, extra_env=media(tmp_path / "restored-media"))

    assert "Restored" in restored.stdout
    before, after = table_rows(db.url), table_rows(empty_target)
    assert before.keys() == after.keys()
    assert sum(len(rows) for rows in before.values()) > 100
    counters_before, counters_after = dict(before.pop("reference_change")), dict(after.pop("reference_change"))
    stamps_before, stamps_after = dict(before.pop("figures_change")), dict(after.pop("figures_change"))
    for table in before:
        assert after[table] == before[table], table
    # the change counters move on, so nothing a process kept before matches them
    assert counters_after.keys() == counters_before.keys()
    assert all(counters_after[name] != counters_before[name] for name in counters_before), counters_after
    assert stamps_after.pop(-1) != stamps_before.pop(-1, None) and stamps_after == stamps_before
    assert triggers(empty_target, "reference_") == triggers(db.url, "reference_") == (
        18 if db.kind == "postgres" else 27)
    assert triggers(empty_target, "figures_") == triggers(db.url, "figures_") > 0
    hashes = media_hashes(source_media)
    assert len(hashes) > 5
    assert media_hashes(tmp_path / "restored-media") == hashes
    # the restored database takes new rows (its id sequences came back too)
    run_cli("user", "create", "--username", "after-restore", "--password", "secret123", "--role", "maker",
            url=empty_target)
    assert run_cli("migrate", "--check", url=empty_target).returncode == 0


async def test_a_non_empty_target_is_refused_unless_forced(db, tmp_path):
    source_media = tmp_path / "media"
    run_cli("demo", url=db.url, extra_env=media(source_media))
    archive = tmp_path / "network.tar.gz"
    run_cli("backup", str(archive), url=db.url, extra_env=media(source_media))
    run_cli("user", "create", "--username", "since-backup", "--password", "secret123", "--role", "maker",
            url=db.url)
    (source_media / "since-backup.txt").write_text("kept")
    before = table_rows(db.url)

    refused = run_cli("restore", str(archive), url=db.url, extra_env=media(source_media), check=False)

    assert refused.returncode == 2
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert table_rows(db.url) == before
    assert (source_media / "since-backup.txt").read_text() == "kept"

    run_cli("restore", "--force", str(archive), url=db.url, extra_env=media(source_media))
    accounts = table_rows(db.url)["account"]
    assert not any("since-backup" in row for row in accounts)
    assert not (source_media / "since-backup.txt").exists()


def _damaged(archive: Path) -> Path:
    data = bytearray(archive.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    damaged = archive.with_name("damaged.tar.gz")
    damaged.write_bytes(bytes(data))
    return damaged


async def test_a_damaged_or_foreign_archive_restores_nothing(db, empty_target, tmp_path):
    source_media = tmp_path / "media"
    run_cli("demo", url=db.url, extra_env=media(source_media))
    archive = tmp_path / "network.tar.gz"
    run_cli("backup", str(archive), url=db.url, extra_env=media(source_media))
    run_cli("migrate", url=empty_target)
    target_media = tmp_path / "target-media"
    before = table_rows(empty_target)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    foreign = tmp_path / "photos.tar.gz"
    with tarfile.open(foreign, "w:gz") as other:
        other.add(source_media, arcname="photos")

    for bad in (_damaged(archive), truncated, foreign, tmp_path / "missing.tar.gz", tmp_path,
                Path(db.url.removeprefix("sqlite:///")) if db.kind == "sqlite" else source_media):
        result = run_cli("restore", str(bad), url=empty_target, extra_env=media(target_media), check=False)
        assert result.returncode == 2, (bad, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and str(bad) in result.stderr
        assert table_rows(empty_target) == before
        assert not target_media.exists() or list(target_media.iterdir()) == [], "nothing left behind"


async def test_a_backup_of_the_other_kind_is_refused(db, tmp_path):
    archive = tmp_path / "other.tar.gz"
    if db.kind == "sqlite":
        other = create_postgres_database()
        try:
            run_cli("migrate", url=postgres_url(other))
            run_cli("backup", str(archive), url=postgres_url(other), extra_env=media(tmp_path / "m"))
        finally:
            drop_postgres_database(other)
    else:
        other_url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
        run_cli("migrate", url=other_url)
        run_cli("backup", str(archive), url=other_url, extra_env=media(tmp_path / "m"))

    result = run_cli("restore", str(archive), url=db.url, extra_env=media(tmp_path / "target"), check=False)

    assert result.returncode == 2
    assert "FABBOOKING_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


async def test_backup_refuses_to_overwrite_or_write_nowhere(db, tmp_path):
    existing = tmp_path / "existing.tar.gz"
    existing.write_text("an older backup")
    # /proc: a folder nobody may create files in, even root
    for path in (existing, tmp_path / "no-such-folder" / "b.tar.gz", Path("/proc/fabbooking.tar.gz")):
        result = run_cli("backup", str(path), url=db.url, check=False)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
    assert existing.read_text() == "an older backup"
    left = [name for name in os.listdir(tmp_path) if not name.startswith("fabbooking.sqlite3")]
    assert left == ["existing.tar.gz"], "no partial archive or work folder left"


def test_backup_without_pg_dump_says_to_install_the_client(tmp_path, postgres_database):
    result = run_cli("backup", str(tmp_path / "b.tar.gz"), url=postgres_database, check=False,
                     extra_env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    assert "postgresql-client" in result.stderr
    assert not (tmp_path / "b.tar.gz").exists()


def _with_manifest(archive: Path, change) -> Path:
    """A copy of ``archive`` whose manifest went through ``change``."""
    import io
    import json

    changed = archive.with_name("changed.tar.gz")
    with tarfile.open(archive, "r:gz") as source, tarfile.open(changed, "w:gz") as target:
        for member in source:
            data = source.extractfile(member).read() if member.isfile() else b""
            if member.name == "manifest.json":
                data = json.dumps(change(json.loads(data))).encode()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return changed


def test_a_backup_from_a_newer_or_older_version(tmp_path):
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    run_cli("migrate", url=source)
    archive = tmp_path / "b.tar.gz"
    run_cli("backup", str(archive), url=source)

    newer = _with_manifest(archive, lambda m: {**m, "migrations": [*m["migrations"], "bookings:2099-01-01T00:00:00:000000"]})
    refused = run_cli("restore", str(newer), url=f"sqlite:///{tmp_path / 'a.sqlite3'}", check=False,
                      extra_env=media(tmp_path / "a"))
    assert refused.returncode == 2
    assert "newer Fabbooking" in refused.stderr and "bookings:2099" in refused.stderr

    # an archive of an older version restores, and says to migrate
    older = _with_manifest(archive, lambda m: {**m, "migrations": m["migrations"][:-1]})
    restored = run_cli("restore", str(older), url=f"sqlite:///{tmp_path / 'b.sqlite3'}",
                       extra_env=media(tmp_path / "b"))
    assert "fabbooking migrate" in restored.stdout
