"""Sending the password-reset link: the one place that will hand it to the e-mail outbox.

Until the outbox (``fabbooking/notifications``) is connected here, the link is written to
the log at INFO, so an operator can pass it on and tests can follow it.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("fabbooking.accounts.reset_mail")


async def send_reset_link(account: dict[str, Any], link: str) -> None:
    """Send ``link`` to ``account`` (a row with ``id``, ``username``, ``email``, ``language``),
    in the account's language."""
    log.info("password reset link for account %s (%s): %s", account["id"], account["email"], link)
