"""Applying Piccolo migrations from code (``fabbooking migrate`` and ``serve``)."""

from __future__ import annotations

import contextlib
import io

from fabbooking import database
from fabbooking.errors import CommandFailed


async def migrate(quiet: bool = False) -> None:
    """Apply every pending migration of every app, in dependency order."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    output = io.StringIO()
    with contextlib.redirect_stdout(output) if quiet else contextlib.nullcontext():
        result = await run_forwards(app_name="all")
    if not result.success:
        raise CommandFailed(f"migrations failed: {result.message}\n{output.getvalue()}")
    if not database.is_postgres():
        await database.DB.run_ddl("PRAGMA journal_mode=WAL")
