"""Slowing down password guessing without letting anyone lock anyone out.

Failed logins are counted per (username, address) and per address. The first few are free;
after them each new try must wait a delay that doubles with every failure, up to a ceiling.
The right password typed from another address is never slowed down by a stranger's guesses.

A try is recorded *before* its password is checked, in the same locked step as the count,
so twenty simultaneous guesses cannot all slip under the limit: at most the free number
are checked, the others are told how long to wait. A try whose password was right is then
forgotten, with the earlier failures of that username from that address.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking.accounts.tables import LoginFailure
from fabbooking.errors import Refused
from fabbooking.stored_moments import aware

WINDOW = timedelta(hours=1)  # failures older than this are forgotten
FIRST_DELAY = timedelta(seconds=30)
LONGEST_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class Limit:
    free: int  # failures allowed before any waiting


PER_ACCOUNT_AND_ADDRESS = Limit(free=5)
PER_ADDRESS = Limit(free=30)  # a fab lab's public desk shares one address between many people


def delay_after(failures: int, limit: Limit) -> timedelta:
    """How long to wait after the latest of ``failures`` failures before the next try."""
    if failures < limit.free:
        return timedelta(0)
    doublings = min(failures - limit.free, 16)
    return min(FIRST_DELAY * 2**doublings, LONGEST_DELAY)


def wait_needed(pair_failures: list[datetime], address_failures: list[datetime],
                now: datetime) -> timedelta:
    """The wait before a new try is allowed (zero: allowed now). Pure: no I/O."""
    wait = timedelta(0)
    for failures, limit in ((pair_failures, PER_ACCOUNT_AND_ADDRESS), (address_failures, PER_ADDRESS)):
        if len(failures) >= limit.free:
            allowed_at = max(failures) + delay_after(len(failures), limit)
            wait = max(wait, allowed_at - now)
    return wait


def address_key(client: str) -> str:
    """IPv6 clients are counted by their /64 (one home or phone gets a whole /64)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def refusal(wait: timedelta, code: str = "too_many_attempts") -> Refused:
    """Refused with the wait in whole seconds (Retry-After) and minutes (the sentence)."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    return Refused(code, retry_after=seconds, minutes=math.ceil(seconds / 60))


async def record_try(username: str, client: str) -> None:
    """Count this try against the limits and record it, in one locked step; or refuse it
    with Refused("too_many_attempts") and ``retry_after`` seconds."""
    from fabbooking import database

    client = address_key(client)
    async with database.write_transaction():  # SQLite: one writer at a time
        if database.is_postgres():  # every count below is of this address: lock it alone
            await LoginFailure.raw("SELECT pg_advisory_xact_lock(hashtext({}))", "login:" + client)
        now = datetime.now(UTC)
        rows = await LoginFailure.select(LoginFailure.username, LoginFailure.at).where(
            (LoginFailure.client == client) & (LoginFailure.at > now - WINDOW))
        moments = [(row["username"], aware(row["at"])) for row in rows]
        wait = wait_needed([at for who, at in moments if who == username], [at for _, at in moments], now)
        if wait > timedelta(0):
            raise refusal(wait)
        await LoginFailure.insert(LoginFailure(username=username, client=client, at=now))


async def forget(username: str, client: str) -> None:
    """The password was right: this username's failures from this address no longer count."""
    client = address_key(client)
    await LoginFailure.delete().where((LoginFailure.username == username) & (LoginFailure.client == client))


async def prune(now: datetime | None = None) -> None:
    """Drop failures too old to count."""
    moment = now or datetime.now(UTC)
    await LoginFailure.delete().where(LoginFailure.at < moment - WINDOW)
