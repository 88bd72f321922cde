"""Whether a database is empty enough to restore into."""

from __future__ import annotations


async def tables_with_rows() -> list[str]:
    """Fabbooking tables holding at least one row. A freshly migrated database has none:
    the migration table and the job runs are bookkeeping, not data."""
    from fabbooking import database
    from fabbooking.jobs.tables import JobRun

    filled = []
    for table in database.app_tables():
        if table is JobRun or not await table.table_exists():
            continue
        if await table.exists():
            filled.append(table._meta.tablename)
    return filled
