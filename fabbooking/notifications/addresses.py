"""Proving an e-mail address: a link signed with the server's secret key, naming the
account and the address, valid LINK_DAYS. Opening it records the address as proved; it
counts only while the account's e-mail is still that address. Also the person's choices
of messages, and whether the desk can reach someone by e-mail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from fabbooking import settings
from fabbooking.accounts.tables import Account
from fabbooking.errors import Refused
from fabbooking.notifications.kinds import KINDS, OPTIONAL_KINDS
from fabbooking.notifications.outbox import Notice, enqueue, proved_addresses, same_address
from fabbooking.notifications.tables import MutedKind, VerifiedAddress

LINK_DAYS = 7


@cache
def _key() -> bytes:
    return hashlib.sha256(b"fabbooking address proof\0" + settings.load_settings().secret_key.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(account_id: int, address: str, now: datetime) -> str:
    body = _b64(json.dumps({"a": account_id, "e": address.strip().lower(),
                            "x": int((now + timedelta(days=LINK_DAYS)).timestamp())}).encode())
    return f"{body}.{_b64(hmac.new(_key(), body.encode(), hashlib.sha256).digest()[:20])}"


def read(token: str, now: datetime) -> tuple[int, str]:
    """(account id, address) of a link we signed that has not expired; Refused otherwise."""
    body, _, signature = (token or "").strip().partition(".")
    try:
        expected = _b64(hmac.new(_key(), body.encode(), hashlib.sha256).digest()[:20])
        if not hmac.compare_digest(expected, signature):
            raise ValueError
        facts = json.loads(_unb64(body))
        account_id, address, until = int(facts["a"]), str(facts["e"]), int(facts["x"])
    except (ValueError, KeyError, TypeError):
        raise Refused("address_link_invalid", status=400) from None
    if now.timestamp() > until:
        raise Refused("address_link_expired", status=400, days=LINK_DAYS)
    return account_id, address


async def ask_for_proof(account_id: int, now: datetime) -> bool:
    """Write the e-mail with the link that proves the account's address; False when it has
    none or it is proved already. In the caller's transaction, like every message."""
    account = await Account.select(Account.email).where(Account.id == account_id).first()
    if account is None or not account["email"]:
        return False
    if account_id in await proved_addresses([account_id]):
        return False
    link = f"{settings.public_url()}/me/notifications/verify?t={sign(account_id, account['email'], now)}"
    return bool(await enqueue(Notice(account_id, "address_verification", {"link": link, "days": LINK_DAYS},
                                     address=account["email"])))


async def prove(token: str, now: datetime) -> dict[str, Any]:
    """Record the address of a signed link as proved, if it is still the account's e-mail."""
    account_id, address = read(token, now)
    account = await Account.select(Account.id, Account.email).where(Account.id == account_id).first()
    if account is None or not same_address(account["email"], address):
        raise Refused("address_link_invalid", status=400)
    await mark_proved(account_id, account["email"], now)
    return account


async def mark_proved(account_id: int, address: str, now: datetime) -> None:
    """Record an address as proved (by its link; the demo and tests call it directly)."""
    await VerifiedAddress.insert(VerifiedAddress(account=account_id, address=address, verified_at=now)
                                 ).on_conflict(target=VerifiedAddress.account, action="DO UPDATE",
                                               values=[VerifiedAddress.address, VerifiedAddress.verified_at])


async def choices(account_id: int) -> dict[str, bool]:
    """Each optional kind of message: True when the person gets it."""
    muted = {r["kind"] for r in await MutedKind.select(MutedKind.kind).where(MutedKind.account == account_id)}
    return {k.name: k.name not in muted for k in OPTIONAL_KINDS}


async def set_choices(account_id: int, wanted: set[str]) -> None:
    """Turn off every optional kind not in ``wanted``; unknown names are refused."""
    unknown = wanted - set(KINDS)
    if unknown:
        raise Refused("unknown_message_kind")
    await MutedKind.delete().where(MutedKind.account == account_id)
    off = [MutedKind(account=account_id, kind=k.name) for k in OPTIONAL_KINDS if k.name not in wanted]
    if off:
        await MutedKind.insert(*off)


async def reach(account_id: int, email: str | None = "?") -> str:
    """What the desk sees: ``none`` (no address), ``unproved`` or ``reachable``. ``email``:
    the account's, when the caller read it already."""
    if email == "?":
        account = await Account.select(Account.email).where(Account.id == account_id).first()
        email = account["email"] if account else None
    if not email:
        return "none"
    return "reachable" if account_id in await proved_addresses([account_id]) else "unproved"
