"""Draining the outbox: claim a few messages with a lease, send them, mark them sent.

Every ``serve`` and ``worker`` process drains (runner job ``send-mail``). A message is
claimed by one UPDATE that sets ``claimed_until`` only where it is still unclaimed (or its
lease ran out) and unsent: of two processes, one gets each row. The mail is sent outside
any transaction (a slow mail server holds no lock), then marked sent. A failure counts an
attempt and waits longer each time (1, 2, 4 … minutes, at most 6 hours) before the next;
after MAX_ATTEMPTS the message stays unsent, shown to admins with its last error. A process
that dies between sending and marking leaves the lease to run out: that message is sent
again (at least once, never lost).

Without FABBOOKING_SMTP_URL, each message is written to the log and marked sent.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from fabbooking.notifications.tables import Outbox
from fabbooking.settings import SmtpServer, mail_from, smtp_url

log = logging.getLogger("fabbooking.mail")

LEASE = timedelta(minutes=5)
BATCH = 50
MAX_ATTEMPTS = 12
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
SMTP_TIMEOUT_S = 30.0
KEPT = timedelta(days=30)  # sent or given-up messages hold personal data: forgotten after this


def wait_after(attempts: int) -> timedelta:
    """How long to wait before trying again after ``attempts`` failures (pure)."""
    return min(LONGEST_WAIT, FIRST_WAIT * 2 ** max(0, attempts - 1))


def build_message(row: dict[str, Any], sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row["address"]
    message["Subject"] = row["subject"]
    message["Date"] = format_datetime(row["created_at"])
    domain = sender.rpartition("@")[2].rstrip(">").strip() or None
    message["Message-ID"] = make_msgid(f"outbox-{row['id']}", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(row["text_body"])
    message.add_alternative(row["html_body"], subtype="html")
    if row["ics"]:
        message.add_attachment(row["ics"].encode(), maintype="text", subtype="calendar",
                               filename="reservation.ics", params={"method": "PUBLISH"})
    message["Content-Language"] = row["language"]  # after the parts: setting them clears content headers
    return message


class Sender:
    """One SMTP connection for a batch (opened on the first message)."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        if server.implicit_tls:
            connection = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT_S, context=context)
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_S)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
        if server.username:
            connection.login(server.username, server.password or "")
        return connection

    def send(self, message: EmailMessage) -> None:
        if self.connection is None:
            self.connection = self._connect()
        try:
            self.connection.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


@dataclass(frozen=True)
class Drained:
    sent: int = 0
    failed: int = 0


async def claim(now: datetime, limit: int = BATCH) -> list[dict[str, Any]]:
    """Lease up to ``limit`` messages due now to this process; the rows it got."""
    due = await Outbox.select(Outbox.id).where(
        Outbox.sent_at.is_null() & (Outbox.next_try_at <= now) & (Outbox.attempts < MAX_ATTEMPTS)
        & (Outbox.claimed_until.is_null() | (Outbox.claimed_until < now))
    ).order_by(Outbox.id).limit(limit)
    if not due:
        return []
    return await Outbox.update({Outbox.claimed_until: now + LEASE}).where(
        Outbox.id.is_in([r["id"] for r in due]) & Outbox.sent_at.is_null()
        & (Outbox.claimed_until.is_null() | (Outbox.claimed_until < now))
    ).returning(Outbox.id, Outbox.address, Outbox.language, Outbox.subject, Outbox.text_body,
                Outbox.html_body, Outbox.ics, Outbox.created_at, Outbox.attempts, Outbox.kind)


async def _mark_sent(message_id: int, now: datetime) -> None:
    await Outbox.update({Outbox.sent_at: now, Outbox.claimed_until: None, Outbox.last_error: ""}
                        ).where(Outbox.id == message_id)


async def _mark_failed(row: dict[str, Any], error: str, now: datetime) -> None:
    attempts = row["attempts"] + 1
    await Outbox.update({Outbox.attempts: attempts, Outbox.next_try_at: now + wait_after(attempts),
                         Outbox.claimed_until: None, Outbox.last_error: error[:1000]}
                        ).where(Outbox.id == row["id"])


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {detail}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
    return f"{type(exc).__name__}: {exc}"


async def drain(now: datetime, server: SmtpServer | None = None, use_smtp: bool = True) -> Drained:
    """Send what is due; never raises for a mail server's failure (it is recorded)."""
    rows = await claim(now)
    if not rows:
        return Drained()
    server = server if server is not None else (smtp_url() if use_smtp else None)
    sender_address = mail_from()
    if server is None:
        for row in rows:
            log.info("e-mail (no FABBOOKING_SMTP_URL, not sent) to %s, %s: %s\n%s", row["address"], row["kind"],
                     row["subject"], row["text_body"])
            await _mark_sent(row["id"], now)
        return Drained(sent=len(rows))
    sender = Sender(server)
    sent = failed = 0
    try:
        for row in rows:
            try:
                await asyncio.to_thread(sender.send, build_message(row, sender_address))
            except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
                failed += 1
                error = _describe(exc)
                log.warning("e-mail %d to %s not sent (attempt %d): %s", row["id"], row["address"],
                            row["attempts"] + 1, error)
                await _mark_failed(row, error, now)
                if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                    # the server itself is unreachable or refused us: the others wait for next time
                    break
                continue
            sent += 1
            await _mark_sent(row["id"], now)
    finally:
        await asyncio.to_thread(sender.close)
        # whatever this batch did not reach is free again at once
        await Outbox.update({Outbox.claimed_until: None}).where(
            Outbox.id.is_in([r["id"] for r in rows]) & Outbox.sent_at.is_null()
            & (Outbox.claimed_until == now + LEASE))
    return Drained(sent=sent, failed=failed)


async def forget_old_messages(now: datetime) -> int:
    """Delete the messages sent, or given up, more than KEPT ago; how many."""
    gone = await Outbox.delete().where(
        (Outbox.created_at < now - KEPT) & (Outbox.sent_at.is_not_null() | (Outbox.attempts >= MAX_ATTEMPTS))
    ).returning(Outbox.id)
    return len(gone)
