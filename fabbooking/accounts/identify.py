"""Who is asking, in one statement: the viewer behind an API token or a browser session.

Every request of a signed-in person starts here, so each lookup is a single query that
joins the token (or session) to the account and the sites it works at — never kept past
the database's data version (the page cache keeps the rows for one; expiry is checked at
each request), so a revoked token, an ended session or a changed role counts on the very
next request.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from fabbooking.accounts.tables import Account, BrowserSession
from fabbooking.accounts.viewer import Viewer
from fabbooking.prepared import quick_rows
from fabbooking.references.kept import Kept
from fabbooking.stored_moments import as_datetime, aware

SESSION_EXTENSION = timedelta(days=1)  # a session used within a day of its expiry lives a day more

_ACCOUNT = """a.id AS account_id, a.username, a.role, a.language, a.active, s.site AS staff_site
    FROM account AS a LEFT JOIN staff AS s ON s.account = a.id"""

_BY_TOKEN = f"""SELECT t.expires_at, {_ACCOUNT} JOIN api_token AS t ON t.account = a.id WHERE t.digest = {{}}"""

_BY_SESSION = f"""SELECT b.id AS session_id, b.expiry_date, b.max_expiry_date, {_ACCOUNT}
    JOIN browser_session AS b ON b.user_id = a.id WHERE b.token = {{}}"""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _viewer(rows: list[dict[str, Any]]) -> Viewer | None:
    if not rows or not rows[0]["active"]:
        return None
    first = rows[0]
    return Viewer(
        account_id=first["account_id"],
        username=first["username"],
        role=first["role"],
        language=first["language"],
        staff_site_ids=frozenset(r["staff_site"] for r in rows if r["staff_site"] is not None),
    )


async def viewer_for_token(token: str, counters: dict[str, int] | None = None) -> Viewer | None:
    """The active account an API token belongs to, or None (also once the token expired).
    ``counters``: see Kept.get."""
    return token_viewer_at(await token_rows(token_digest(token), counters), datetime.now(UTC))


# kept between requests while no account, token or staff row is written (references.kept)
_KEPT_TOKENS: Kept[list[dict[str, Any]]] = Kept(("account", "api_token", "staff"))


async def token_rows(digest: str, counters: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The token's account and the sites it works at: what ``token_viewer_at`` reads (its
    expiry is checked there, at every request). An unknown token is not kept."""
    async def read() -> list[dict[str, Any]] | None:
        return await quick_rows(Account, _BY_TOKEN, digest) or None

    return await _KEPT_TOKENS.get(digest, read, counters) or []


def token_viewer_at(rows: list[dict[str, Any]], now: datetime) -> Viewer | None:
    """Who the token's rows name at ``now`` (aware): None once the token expired."""
    if rows and rows[0]["expires_at"] is not None and aware(rows[0]["expires_at"]) <= now:
        return None
    return _viewer(rows)


async def viewer_for_session(token: str) -> Viewer | None:
    """The active account of a browser session that has not expired, or None. A session
    close to its expiry is extended (never past its hard limit), as piccolo_api does."""
    rows = await session_rows(token)
    viewer, extend = session_viewer_at(rows, datetime.now())
    if extend:
        await BrowserSession.update({BrowserSession.expiry_date: as_datetime(rows[0]["expiry_date"]) + SESSION_EXTENSION}
                                    ).where(BrowserSession.id == rows[0]["session_id"])
    return viewer


async def session_rows(token: str) -> list[dict[str, Any]]:
    """The session's account and the sites it works at: what ``session_viewer_at`` reads.
    None found for a token with a NUL character (no session has one; PostgreSQL refuses it in text)."""
    if "\x00" in token:
        return []
    return await quick_rows(Account, _BY_SESSION, token)


def session_viewer_at(rows: list[dict[str, Any]], now: datetime) -> tuple[Viewer | None, bool]:
    """Who the session's rows name at ``now`` (a naive local time, as piccolo_api keeps
    session times), and whether the session is to be extended first."""
    if not rows:
        return None, False
    expiry, hard_limit = as_datetime(rows[0]["expiry_date"]), as_datetime(rows[0]["max_expiry_date"])
    if not (expiry > now and hard_limit > now):
        return None, False
    return _viewer(rows), expiry - now < SESSION_EXTENSION
