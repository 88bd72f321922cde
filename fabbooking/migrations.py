"""Applying Piccolo migrations from code (``fabbooking migrate`` and ``serve``), and
listing the ones not applied yet (``fabbooking migrate --check``, backups)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import zlib
from collections.abc import AsyncIterator

from fabbooking import database
from fabbooking.errors import CommandFailed

# pg_advisory_lock's key for "a process is migrating this database"
MIGRATING = zlib.crc32(b"fabbooking migrate") - 2**31


async def migrate(quiet: bool = False) -> None:
    """Apply every pending migration of every app, in dependency order, one process at a
    time: several ``serve`` and ``worker`` processes starting together on a new or upgraded
    database would otherwise apply the same migration at once, and all but one fail."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    output = io.StringIO()
    async with _one_process_at_a_time():
        with contextlib.redirect_stdout(output) if quiet else contextlib.nullcontext():
            result = await run_forwards(app_name="all")
    if not result.success:
        raise CommandFailed(f"migrations failed: {result.message}\n{output.getvalue()}")
    if not database.is_postgres():
        await database.DB.run_ddl("PRAGMA journal_mode=WAL")


@contextlib.asynccontextmanager
async def _one_process_at_a_time() -> AsyncIterator[None]:
    """Hold a lock while the migrations run; the other processes wait for it, then find
    nothing left to apply. PostgreSQL: a session advisory lock, on a connection of its own.
    SQLite (one file, one machine): an exclusive ``flock`` on a file beside the database."""
    if database.is_postgres():
        connection = await database.DB.get_new_connection()
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", MIGRATING)
            yield
        finally:
            await connection.close()  # and with it the lock
        return
    with open(f"{database.DB.path}-migrating.lock", "a") as lock:
        await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def known_migrations() -> list[str]:
    """Every migration this code ships, as ``app:id``, in app order."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    manager = BaseMigrationManager()
    names = []
    for module in manager.get_app_modules():
        config = module.APP_CONFIG
        modules = manager.get_migration_modules(config.resolved_migrations_folder_path)
        names += [f"{config.app_name}:{migration_id}" for migration_id in manager.get_migration_ids(modules)]
    return names


async def applied_migrations() -> list[str]:
    """The migrations recorded in the database, as ``app:id``; none when it has no
    migration table yet. Reads only: creates nothing."""
    from piccolo.apps.migrations.tables import Migration

    if not await Migration.table_exists():
        return []
    rows = await Migration.select(Migration.app_name, Migration.name).order_by(Migration.id)
    return [f"{row['app_name']}:{row['name']}" for row in rows]


async def pending_migrations() -> list[str]:
    """The migrations of this code that the database has not had yet, in order."""
    applied = set(await applied_migrations())
    return [name for name in known_migrations() if name not in applied]
