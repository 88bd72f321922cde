"""A mark of what the database holds: two reads that give the same mark saw the same data.

- SQLite: ``PRAGMA data_version`` on the event loop's quick-read connection
  (``PooledSQLiteEngine``). That connection only reads; the value changes whenever any other
  connection — of this process or of another one — has committed since it last asked. The
  mark carries the connection's number: the values of two connections are not comparable.
- PostgreSQL: ``pg_current_snapshot()``, the transactions that a statement starting now
  sees as committed (xmin, xmax and those in progress between). A transaction that wrote
  has an id; when it commits, it leaves the in-progress list or moves xmax past it, so the
  snapshot changes. Two equal snapshots see exactly the same committed transactions.
  Read-only transactions have no id and change nothing. (It is the whole cluster's: a write
  to another database changes it too, which only costs a render.)

Either way, a request that reads the mark, then reads its data, shows at least everything
committed before the mark was read; another request that reads the same mark later started
after no other commit, so that page shows everything it must. The mark also names the
engine: tests and commands switch engines within one process.

None when the database gives no answer at once (SQLite busy, PostgreSQL down): the caller
does without.
"""

from __future__ import annotations

from collections.abc import Hashable

from piccolo.querystring import QueryString

from fabbooking import database

_POSTGRES = "SELECT pg_current_snapshot()::text AS data_version"


class DataVersionRead(QueryString):
    """The statement that reads the mark (SQLite's engine answers it on its quick reader)."""

    data_version = True


async def current() -> Hashable | None:
    from fabbooking.outage import OUTAGE, is_database_unavailable

    if OUTAGE.down_since is not None:  # known to be down: the request meets it once, not twice
        return None
    engine = database.DB
    try:
        rows = await engine.run_querystring(DataVersionRead(_POSTGRES))
    except Exception as exc:  # noqa: BLE001 - no mark; the page's own queries meet the problem
        if is_database_unavailable(exc):
            OUTAGE.noticed(exc)
        return None
    if not rows:
        return None
    row = rows[0]
    # the engine itself (not its id, which a later engine could reuse), as tests switch engines
    return (engine, row.get("connection"), row["data_version"])
