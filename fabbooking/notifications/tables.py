"""E-mail to people: the outbox drained by the background worker, the addresses people have
proved are theirs, and the kinds of message each person turned off."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from fabbooking.accounts.tables import Account


class Outbox(Table, tablename="outbox"):
    """One e-mail, written in the transaction of the change it tells about, sent later by
    the drain job (``sending.drain``). ``claimed_until`` is the lease of the process sending
    it; ``sent_at`` is set once the mail server accepted it (or, without a mail server, once
    it was written to the log). ``dedupe_key`` (unique when set, migration index) makes a
    message like the day-before reminder written once however often its job runs."""

    id: Serial  # Piccolo's own primary key, declared for the type checker

    account = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.cascade, index=True)
    address = Varchar(length=255)
    language = Varchar(length=5, default="fr")
    kind = Varchar(length=40)
    subject = Varchar(length=300)
    text_body = Text()
    html_body = Text()
    ics = Text(default="")  # an iCalendar attachment (event.ics), or empty
    dedupe_key = Varchar(length=120, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    attempts = Integer(default=0)
    next_try_at = Timestamptz(default=TimestamptzNow())
    claimed_until = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")


class VerifiedAddress(Table, tablename="verified_address"):
    """The address a person proved is theirs by opening the link sent to it. It counts only
    while it is still their account's e-mail: changing the address asks for a new proof."""

    account = ForeignKey(Account, null=False, unique=True, on_delete=OnDelete.cascade)
    address = Varchar(length=255)
    verified_at = Timestamptz(default=TimestamptzNow())


class MutedKind(Table, tablename="muted_kind"):
    """A kind of message a person asked not to receive ((account, kind) unique, migration)."""

    account = ForeignKey(Account, null=False, index=True, on_delete=OnDelete.cascade)
    kind = Varchar(length=40)
