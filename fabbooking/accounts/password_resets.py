"""Choosing a new password with a link sent by e-mail, for those who gave an address.

Asking never tells whether a username or an address exists: the answer is the same, and a
link is made only for an active account with an e-mail. A link is a random secret of which
only the SHA-256 digest is kept; it works once, for an hour. Using it sets the new password,
ends every browser session of the account and forgets the failed logins of its username.
People without an e-mail ask at the desk.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fabbooking.accounts import address_limit, passwords, reset_mail, usernames
from fabbooking.accounts.identify import token_digest
from fabbooking.accounts.services import check_password
from fabbooking.accounts.tables import Account, BrowserSession, LoginFailure, PasswordReset
from fabbooking.errors import Refused

LINK_LIFETIME = timedelta(hours=1)
LINKS_PER_HOUR = 3  # per account: asking again and again does not fill someone's mailbox
RESET_PATH = "/password/reset/"


async def ask_for_link(who: str, client: str, public_url: str) -> None:
    """Send a reset link to the account named by ``who`` (a username or an e-mail) if it has
    an e-mail; else do nothing, and say nothing about it. Requests are limited per address
    (Refused("too_many_reset_requests"), which tells nothing about the account either)."""
    await address_limit.record_try(client, address_limit.RESET_REQUESTS)
    text = who.strip()[:255]
    if not text:
        return
    row = await Account.select(Account.id, Account.username, Account.email, Account.language).where(
        ((Account.username == usernames.normalise(text)[:100]) | (Account.email == text.lower()))
        & (Account.active == True)  # noqa: E712
        & Account.email.is_not_null()).first()
    if row is None:
        return
    now = datetime.now(UTC)
    recent = await PasswordReset.count().where(
        (PasswordReset.account == row["id"]) & (PasswordReset.created_at > now - LINK_LIFETIME))
    if recent >= LINKS_PER_HOUR:
        return
    token = secrets.token_urlsafe(32)
    await PasswordReset.insert(PasswordReset(account=row["id"], digest=token_digest(token), created_at=now,
                                             expires_at=now + LINK_LIFETIME))
    await PasswordReset.delete().where(PasswordReset.expires_at < now)
    await address_limit.prune(now)
    await reset_mail.send_reset_link(row, public_url.rstrip("/") + RESET_PATH + token,
                                     minutes=int(LINK_LIFETIME.total_seconds() // 60))


async def link_works(token: str) -> bool:
    """Whether ``token`` is an unused link that has not expired."""
    return await PasswordReset.exists().where(
        (PasswordReset.digest == token_digest(token)) & (PasswordReset.expires_at > datetime.now(UTC)))


async def use_link(token: str, new_password: str) -> int:
    """Set the new password of the link's account and return its id; the link (and any
    other of the account's) is spent, every browser session of the account ends. Refused
    (nothing changed) for a weak password or a link that is used, expired or unknown."""
    from fabbooking import database

    check_password(new_password)
    if not await link_works(token):  # before hashing: a made-up link costs no CPU
        raise Refused("reset_link_invalid")
    password_hash = await passwords.hashed(new_password)
    async with database.write_transaction():
        spent = await PasswordReset.delete().where(
            (PasswordReset.digest == token_digest(token)) & (PasswordReset.expires_at > datetime.now(UTC))
        ).returning(PasswordReset.account)
        if not spent:
            raise Refused("reset_link_invalid")
        account_id = spent[0]["account"]
        await Account.update({Account.password: password_hash}).where(Account.id == account_id)
        await PasswordReset.delete().where(PasswordReset.account == account_id)
        await BrowserSession.delete().where(BrowserSession.user_id == account_id)
        owner = await Account.select(Account.username).where(Account.id == account_id).first()
        if owner is not None:
            await LoginFailure.delete().where(LoginFailure.username == owner["username"])
    return int(account_id)
