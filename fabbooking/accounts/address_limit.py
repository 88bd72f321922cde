"""How many accounts (or password-reset requests) one address may make, without a CAPTCHA.

An address gets a few free in an hour; after them each new one waits a delay that doubles
(``throttle.delay_after``: 30 s, 1, 2, 4… at most 15 minutes), and at most so many a day. A
fab lab's public Wi-Fi shares one address between many people, so the limits are generous
and the refusal says the desk can create the account at once. Like the login throttle, a try
is counted and recorded in one locked step (twenty simultaneous sign-ups cannot all slip
under the limit); a try refused for another reason (a taken name) is then forgotten.
Addresses are kept a day, never linked to an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking.accounts import throttle
from fabbooking.accounts.tables import AddressTry
from fabbooking.stored_moments import aware

DAY = timedelta(days=1)


@dataclass(frozen=True)
class AddressLimit:
    kind: str  # what is counted: "signup", "reset"
    free_per_hour: int  # before any waiting
    per_day: int
    refusal_code: str


SIGNUPS = AddressLimit("signup", free_per_hour=3, per_day=10, refusal_code="too_many_signups")
RESET_REQUESTS = AddressLimit("reset", free_per_hour=5, per_day=20, refusal_code="too_many_reset_requests")


def wait_needed(moments: list[datetime], now: datetime, limit: AddressLimit) -> timedelta:
    """The wait before one more is allowed from an address that made ``moments`` (zero:
    allowed now). Pure: no I/O."""
    wait = timedelta(0)
    today = [at for at in moments if at > now - DAY]
    if len(today) >= limit.per_day:
        wait = min(today) + DAY - now
    this_hour = [at for at in today if at > now - throttle.WINDOW]
    if len(this_hour) >= limit.free_per_hour:
        allowed_at = max(this_hour) + throttle.delay_after(len(this_hour), throttle.Limit(limit.free_per_hour))
        wait = max(wait, allowed_at - now)
    return wait


async def record_try(client: str, limit: AddressLimit) -> int:
    """Count one more from ``client`` against ``limit`` and record it, in one locked step;
    or refuse it with Refused(limit.refusal_code) and ``retry_after`` seconds. The id of the
    record, for ``forget``."""
    from fabbooking import database

    client = throttle.address_key(client)
    async with database.write_transaction():
        if database.is_postgres():
            await AddressTry.raw("SELECT pg_advisory_xact_lock(hashtext({}))", f"{limit.kind}:{client}")
        now = datetime.now(UTC)
        rows = await AddressTry.select(AddressTry.at).where(
            (AddressTry.client == client) & (AddressTry.kind == limit.kind) & (AddressTry.at > now - DAY))
        wait = wait_needed([aware(row["at"]) for row in rows], now, limit)
        if wait > timedelta(0):
            raise throttle.refusal(wait, limit.refusal_code)
        inserted = await AddressTry.insert(AddressTry(kind=limit.kind, client=client, at=now)).returning(AddressTry.id)
    return inserted[0]["id"]


async def forget(try_id: int) -> None:
    """The try was refused for another reason: it does not count."""
    await AddressTry.delete().where(AddressTry.id == try_id)


async def prune(now: datetime | None = None) -> None:
    """Drop tries older than a day: addresses are not kept longer."""
    await AddressTry.delete().where(AddressTry.at < (now or datetime.now(UTC)) - DAY)
