from __future__ import annotations

from enum import Enum

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table
from piccolo_api.session_auth.tables import SessionsBase


class Role(str, Enum):
    maker = "maker"
    animator = "animator"
    admin = "admin"


class Language(str, Enum):
    fr = "fr"
    en = "en"


class Account(BaseUser, tablename="account"):
    """A person of the network. Email is optional: a username and password are enough."""

    email = Varchar(length=255, unique=True, null=True, default=None)
    display_name = Varchar(length=120, default="")
    role = Varchar(length=20, choices=Role, default=Role.maker, index=True)
    language = Varchar(length=5, choices=Language, default=Language.fr)
    # the username's Latin look-alike (accounts/usernames.py): no two people's names look the same
    username_skeleton = Varchar(length=100, null=True, default=None, index=True)
    created_by = ForeignKey("self", null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class BrowserSession(SessionsBase, tablename="browser_session"):
    """Database-backed browser sessions: they survive restarts and work across processes."""


class ApiToken(Table, tablename="api_token"):
    """A Bearer token for scripts. Only its SHA-256 digest is stored."""

    account = ForeignKey(Account, null=False)
    digest = Varchar(length=64, unique=True, secret=True)
    label = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)  # None: until revoked


class LoginFailure(Table, tablename="login_failure"):
    """One failed login, kept a short while to slow down password guessing."""

    username = Varchar(length=100, index=True)
    client = Varchar(length=64, index=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)


class PasswordReset(Table, tablename="password_reset"):
    """A single-use link to choose a new password, sent to the account's e-mail. Only the
    SHA-256 digest of its secret is kept; it opens nothing after ``expires_at`` or once used
    (the row is deleted when used)."""

    account = ForeignKey(Account, null=False, index=True, on_delete=OnDelete.cascade)
    digest = Varchar(length=64, unique=True, secret=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()


class AddressTry(Table, tablename="address_try"):
    """A sign-up or a reset request from one address (``kind``), kept a day to limit how
    many one address makes. Never linked to an account."""

    kind = Varchar(length=20)
    client = Varchar(length=64)
    at = Timestamptz(default=TimestamptzNow(), index=True)
