"""Sending the password-reset link, through the e-mail outbox (``fabbooking/notifications``).

The link goes to the account's own address, in the person's language; it answers what the
person has just asked for, like the link that proves an address, so it is neither optional
nor held back until the address is proved (the address is the account's, not the asker's).
The link is never written to the log by this module: without ``FABBOOKING_SMTP_URL`` the
outbox writes the message where operators read it, as every other message.
"""

from __future__ import annotations

from typing import Any

from fabbooking.notifications.kinds import N_, Kind, add_kind
from fabbooking.notifications.outbox import Notice, enqueue

KIND = "password_reset"
add_kind(Kind(KIND, N_("Lien pour changer mon mot de passe"), N_("Changer votre mot de passe Fabbooking"),
              optional=False, needs_verified=False))


async def send_reset_link(account: dict[str, Any], link: str, minutes: int = 60) -> None:
    """Write the message holding ``link`` for ``account`` (a row with ``id`` and ``email``)."""
    await enqueue(Notice(account["id"], KIND, {"link": link, "minutes": minutes}, address=account["email"]))
