"""Writing e-mails to the outbox, in the caller's transaction: a message exists only if the
change it tells about was committed, and nothing here talks to the mail server (the drain
job does, later: ``sending.py``). Who gets what is decided here, once: a person with an
address they proved is theirs, who did not turn that kind of message off."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fabbooking import settings
from fabbooking.accounts.tables import Account
from fabbooking.notifications.kinds import kind as kind_named
from fabbooking.notifications.rendering import render
from fabbooking.notifications.tables import MutedKind, Outbox, VerifiedAddress
from fabbooking.prepared import Prepared

log = logging.getLogger("fabbooking.mail")


@dataclass(frozen=True)
class Notice:
    """One message to write: to ``account_id``, of ``kind``, its template filled with
    ``context``. ``key``: written once per key (a second notice with it is dropped).
    ``address``: only for a kind that needs no proved address (the proof itself)."""

    account_id: int
    kind: str
    context: dict[str, Any] = field(default_factory=dict)
    ics: str = ""
    key: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Person:
    """Someone who may be sent e-mail, with the kinds they turned off."""

    account_id: int
    email: str
    language: str
    name: str
    muted: frozenset[str] = frozenset()


def same_address(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.strip().lower() == b.strip().lower()  # type: ignore[union-attr]


_PROVED_COLUMNS = (VerifiedAddress.account, VerifiedAddress.address,
                   VerifiedAddress.account.email.as_alias("email"))
_PROVED_ONE = Prepared(lambda account_id: VerifiedAddress.select(*_PROVED_COLUMNS).where(
    (VerifiedAddress.account == account_id) & (VerifiedAddress.account.active == True)))  # noqa: E712


async def proved_addresses(account_ids: Sequence[int]) -> dict[int, str]:
    """The active accounts among these whose e-mail is an address they proved: their address."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    if len(ids) == 1:  # a booking's own confirmation: a prepared query
        rows = await _PROVED_ONE.rows(account_id=ids[0])
    else:
        rows = await VerifiedAddress.select(*_PROVED_COLUMNS).where(
            VerifiedAddress.account.is_in(ids) & (VerifiedAddress.account.active == True))  # noqa: E712
    return {r["account"]: r["email"] for r in rows if same_address(r["address"], r["email"])}


async def recipients(account_ids: Sequence[int], kind: str) -> dict[int, Person]:
    """Who among these people may be sent a message of ``kind``: a proved address (unless
    the kind needs none: then any address), and that kind not turned off. At most three
    queries, one when nobody has a proved address."""
    spec = kind_named(kind)
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    if spec.needs_verified:
        proved = await proved_addresses(ids)
        if not proved:
            return {}
        ids = sorted(proved)
    rows = await Account.select(Account.id, Account.email, Account.language, Account.username,
                                Account.display_name).where(
        Account.id.is_in(ids) & (Account.active == True))  # noqa: E712
    muted: dict[int, set[str]] = {}
    if spec.optional:
        for r in await MutedKind.select(MutedKind.account, MutedKind.kind).where(
                MutedKind.account.is_in(ids) & (MutedKind.kind == kind)):
            muted.setdefault(r["account"], set()).add(r["kind"])
    return {r["id"]: Person(r["id"], r["email"] or "", r["language"] or "fr", r["display_name"] or r["username"],
                            frozenset(muted.get(r["id"], ())))
            for r in rows if kind not in muted.get(r["id"], ())}


async def enqueue(*notices: Notice, people: dict[int, Person] | None = None) -> int:
    """Write each notice that may be sent to the outbox; return how many were written.

    Runs in the caller's transaction when there is one (Piccolo's queries join it), so call
    it inside the ``write_transaction`` of the change. A notice is dropped, silently, for a
    person without a proved address or who turned its kind off. ``people``: the
    ``recipients`` of the notices' kind, when the caller looked them up already (all the
    notices are then of that kind)."""
    if not notices:
        return 0
    if people is None:
        people = {}
        for kind in sorted({n.kind for n in notices}):
            people.update(await recipients([n.account_id for n in notices if n.kind == kind], kind))
    public_url = settings.public_url()
    rows = []
    for notice in notices:
        spec = kind_named(notice.kind)
        person = people.get(notice.account_id)
        if person is None:
            continue
        address = person.email if spec.needs_verified else (notice.address or person.email)
        if not address:
            continue
        try:
            subject, text, html = render(spec, person.language, {
                **notice.context, "person": person.name, "public_url": public_url,
                "settings_url": f"{public_url}/me/notifications",
            })
        except Exception:  # noqa: BLE001 - a message that cannot be written never refuses the change
            log.exception("e-mail %s to account %d could not be written", spec.name, notice.account_id)
            continue
        rows.append(Outbox(account=notice.account_id, address=address, language=person.language,
                           kind=spec.name, subject=subject, text_body=text, html_body=html, ics=notice.ics,
                           dedupe_key=notice.key))
    if not rows:
        return 0
    keyed = [r for r in rows if r.dedupe_key]
    plain = [r for r in rows if not r.dedupe_key]
    written = 0
    if plain:
        await Outbox.insert(*plain)
        written += len(plain)
    if keyed:
        done = await Outbox.insert(*keyed).on_conflict(target=Outbox.dedupe_key, action="DO NOTHING"
                                                       ).returning(Outbox.id)
        written += len(done)
    return written
