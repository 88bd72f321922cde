"""Hashing and checking passwords in a worker thread.

PBKDF2 with 600,000 iterations takes about 0.3 s of CPU on purpose; run on the event loop it
would stall every other request of the process (8 wrong logins at once held ``/healthz``
for seconds). ``hashlib.pbkdf2_hmac`` releases the GIL, so threads hash in parallel.
"""

from __future__ import annotations

import hmac

import anyio.to_thread

from fabbooking.accounts.tables import Account

# An unknown username still costs one hash, so timing does not tell which usernames exist.
_UNKNOWN_USER_SALT = "0" * 32


def _hash(password: str, salt: str = "", iterations: int | None = None) -> str:
    return Account.hash_password(password, salt, iterations)


async def hashed(password: str) -> str:
    """The stored form of a new password (salted PBKDF2)."""
    return await anyio.to_thread.run_sync(_hash, password)


async def matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (None: an unknown user,
    hashed all the same)."""
    if not stored:
        await anyio.to_thread.run_sync(_hash, password, _UNKNOWN_USER_SALT)
        return False
    try:
        _, iterations, salt, _ = Account.split_stored_password(stored)
        candidate = await anyio.to_thread.run_sync(_hash, password, salt, int(iterations))
    except ValueError:  # a malformed hash, a password too long or not encodable
        return False
    return hmac.compare_digest(candidate, stored)


def needs_rehash(stored: str) -> bool:
    """A hash made with fewer iterations than today's recommendation."""
    try:
        return int(Account.split_stored_password(stored)[1]) != Account._pbkdf2_iteration_count
    except ValueError:
        return False
