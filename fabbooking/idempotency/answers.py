"""Keep and find first answers (see tables.FirstAnswer). The caller holds the write
transaction, so an answer is kept together with the change it reports, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fabbooking.idempotency.tables import FirstAnswer

# A client retries within seconds or minutes; a day covers a phone that comes back online.
KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Kept:
    fingerprint: str
    status: int
    body: bytes


def scoped(account_id: int, key: str) -> str:
    return f"{account_id}:{key}"


async def find(account_id: int, key: str, now: datetime) -> Kept | None:
    """The answer kept under ``key`` for the account, unless it is older than KEPT_FOR
    (then it is forgotten, and the key is free again)."""
    row = await FirstAnswer.select(FirstAnswer.fingerprint, FirstAnswer.status, FirstAnswer.body,
                                   FirstAnswer.created_at).where(
        FirstAnswer.scoped_key == scoped(account_id, key)).first()
    if row is None:
        return None
    if row["created_at"] < now - KEPT_FOR:
        await FirstAnswer.delete().where(FirstAnswer.scoped_key == scoped(account_id, key))
        return None
    return Kept(row["fingerprint"], row["status"], row["body"].encode())


async def claim(account_id: int, key: str, fingerprint: str, now: datetime) -> int:
    """Take the key before doing the work: a concurrent request with the same key waits for
    this transaction (PostgreSQL's unique index; SQLite's write lock), then finds its answer."""
    rows = await FirstAnswer.insert(FirstAnswer(
        scoped_key=scoped(account_id, key), account=account_id, fingerprint=fingerprint,
        status=0, body="", created_at=now)).returning(FirstAnswer.id)
    return rows[0]["id"]


async def keep(claim_id: int, status: int, body: bytes) -> None:
    await FirstAnswer.update({FirstAnswer.status: status, FirstAnswer.body: body.decode()}).where(
        FirstAnswer.id == claim_id)


async def forget_old_answers(now: datetime) -> None:
    await FirstAnswer.delete().where(FirstAnswer.created_at < now - KEPT_FOR)
