"""Accounts people make themselves online: a maker with no training yet, e-mail optional.

The same rules as at the desk (``services.create_account``: NFKC usernames, no look-alike of
an existing name, the password's length, a well-formed e-mail when one is given), the
network's rules accepted, and a limit per address (``address_limit.SIGNUPS``) instead of a
CAPTCHA.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabbooking.accounts import address_limit, services
from fabbooking.accounts.tables import Role
from fabbooking.errors import Refused


@dataclass(frozen=True)
class SignUp:
    username: str
    password: str
    email: str | None = None
    language: str = "fr"
    rules_accepted: bool = False


async def sign_up(form: SignUp, client: str) -> int:
    """Create the maker account and return its id, or Refused (nothing written). Sign-ups
    are counted per address: too many give Refused("too_many_signups") with ``retry_after``."""
    if not form.rules_accepted:
        raise Refused("rules_not_accepted")
    try_id = await address_limit.record_try(client, address_limit.SIGNUPS)
    try:
        account = await services.create_account(services.NewAccount(
            username=form.username, password=form.password, role=Role.maker.value,
            email=form.email or None, language=form.language,
        ))
    except BaseException:
        await address_limit.forget(try_id)
        raise
    await address_limit.prune()
    return account.id
