"""Accounts: creating them (at the desk too, without email), logging in, tokens, sessions."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fabbooking.accounts import passwords, throttle, usernames
from fabbooking.accounts.identify import token_digest
from fabbooking.accounts.tables import (
    Account,
    ApiToken,
    BrowserSession,
    Role,
)
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused, is_unique_violation

USERNAME_PATTERN = re.compile(r"^[\w.@+-]{2,40}$")
# a name, one @, a domain with a dot: enough to catch a typo, not a proof the address works
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
SESSION_LIFETIME = timedelta(days=14)
TOKEN_PREFIX = "fbk_"


@dataclass(frozen=True)
class NewAccount:
    username: str
    password: str
    role: str = Role.maker.value
    email: str | None = None
    display_name: str = ""
    language: str = "fr"
    site_slugs: tuple[str, ...] = ()


def normalise_username(username: str) -> str:
    return usernames.normalise(username)


def _check_new_account(new: NewAccount) -> None:
    if not USERNAME_PATTERN.match(normalise_username(new.username)):
        # A naming rule, like « taken » or « look-alike »: JSON Schema cannot say which Unicode
        # letters NFKC keeps, so the API's schema says "a string" and this says the rest.
        raise Refused("invalid_username", status=422)
    if new.role not in {r.value for r in Role}:
        raise Refused("invalid_input", problems=f"rôle inconnu « {new.role} »",
                      problems_en=f"unknown role “{new.role}”")
    check_password(new.password)
    email = (new.email or "").strip()
    if email and (len(email) > 254 or not EMAIL_PATTERN.match(email)):
        raise Refused("invalid_email", email=email[:100])


def check_password(password: str) -> None:
    if len(password) < Account._min_password_length:
        raise Refused("password_too_short", minimum=Account._min_password_length)
    if len(password) > Account._max_password_length:
        raise Refused("password_too_long", maximum=Account._max_password_length)
    if password.startswith("pbkdf2_sha256"):
        raise Refused("invalid_password")


async def create_account(new: NewAccount, created_by: Viewer | None = None) -> Account:
    """Create an account. Animators may only create makers; admins anything; the CLI
    (``created_by`` None) anything."""
    from fabbooking.network.tables import Site, Staff

    if created_by is not None:
        if not created_by.is_staff_anywhere:
            raise Refused("forbidden")
        if not created_by.is_admin and new.role != Role.maker.value:
            raise Refused("forbidden")
    _check_new_account(new)
    username = normalise_username(new.username)
    email = (new.email or "").strip().lower() or None
    if await Account.exists().where(Account.username == username):
        raise Refused("username_taken", username=username)
    look_alike = usernames.skeleton(username)[:100]
    # accounts made before skeletons were kept have none: their plain name is compared too
    if await Account.exists().where((Account.username_skeleton == look_alike) | (Account.username == look_alike)):
        raise Refused("username_look_alike", username=username)
    if email and await Account.exists().where(Account.email == email):
        raise Refused("email_taken")
    sites = []
    for slug in new.site_slugs:
        site = await Site.objects().get(Site.slug == slug)
        if site is None:
            raise Refused.not_found(f"le lieu « {slug} »", f"the place “{slug}”")
        sites.append(site)
    is_admin = new.role == Role.admin.value
    password_hash = await passwords.hashed(new.password)
    from fabbooking import database

    try:
        async with database.DB.transaction():
            account = Account(
                username=username,
                username_skeleton=look_alike,
                password=password_hash,
                email=email,
                display_name=new.display_name.strip() or username,
                role=new.role,
                language=new.language if new.language in ("fr", "en") else "fr",
                active=True,
                admin=is_admin,
                superuser=is_admin,
                created_by=created_by.account_id if created_by else None,
            )
            await account.save()
            for site in sites:
                await Staff.insert(Staff(site=site.id, account=account.id))
            if email:
                from fabbooking.notifications.addresses import ask_for_proof

                # nothing else is sent to the address before its owner opens this link
                await ask_for_proof(account.id, datetime.now(UTC))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Refused("username_taken", username=username) from None
        raise
    return account


async def check_login(username: str, password: str, client: str) -> int:
    """The account id for these credentials, or Refused. Tries are throttled per username
    and address and per address (see ``throttle``), across processes."""
    username = normalise_username(username)[:100]
    await throttle.record_try(username, client)
    account_id = await _password_is_right(username, password)
    if account_id is not None:
        await throttle.forget(username, client)
        return account_id
    await throttle.prune()
    raise Refused("bad_credentials")


async def _password_is_right(username: str, password: str) -> int | None:
    """The id of the active account with these credentials, else None. The hash runs in a
    worker thread; an unknown username costs a hash too."""
    row = await Account.select(Account.id, Account.password, Account.active).where(
        Account.username == username).first()
    if not await passwords.matches(password, row["password"] if row else None):
        return None
    assert row is not None  # an unknown username never matches
    if not row["active"]:
        return None
    if passwords.needs_rehash(row["password"]):
        await Account.update({Account.password: await passwords.hashed(password)}).where(
            Account.id == row["id"])
    await Account.update({Account.last_login: datetime.now()}).where(Account.id == row["id"])
    return row["id"]


async def issue_token(account_id: int, label: str = "", expires_at: datetime | None = None) -> str:
    """A new API token, valid until ``expires_at`` (None: until revoked); only its digest is
    kept, so it is shown once."""
    return (await issue_token_with_id(account_id, label, expires_at))[1]


async def issue_token_with_id(account_id: int, label: str = "",
                              expires_at: datetime | None = None) -> tuple[int, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    rows = await ApiToken.insert(ApiToken(account=account_id, digest=token_digest(token), label=label[:100],
                                          expires_at=expires_at)).returning(ApiToken.id)
    return rows[0]["id"], token


TOKEN_FIELDS = (ApiToken.id, ApiToken.account, ApiToken.label, ApiToken.created_at, ApiToken.expires_at)


async def list_tokens(viewer: Viewer, account_id: int | None = None) -> list[dict]:
    """The API tokens of ``account_id`` (default: the viewer's own), newest first. Only their
    owner and network admins see them; none of them shows the secret."""
    owner = viewer.account_id if account_id is None else account_id
    if owner != viewer.account_id and not viewer.is_admin:
        raise Refused("forbidden")
    return await ApiToken.select(*TOKEN_FIELDS).where(ApiToken.account == owner).order_by(
        ApiToken.id, ascending=False)


async def revoke_token(viewer: Viewer, token_id: int) -> None:
    """Revoke a token: its owner or a network admin; it opens nothing from the next request."""
    row = await ApiToken.select(ApiToken.account).where(ApiToken.id == token_id).first()
    if row is None or (row["account"] != viewer.account_id and not viewer.is_admin):
        raise Refused.not_found(f"le jeton n° {token_id}", f"token #{token_id}")
    await ApiToken.delete().where(ApiToken.id == token_id)


async def open_session(account_id: int) -> str:
    now = datetime.now()
    session = await BrowserSession.create_session(
        account_id, expiry_date=now + SESSION_LIFETIME, max_expiry_date=now + SESSION_LIFETIME * 2
    )
    return session.token


async def close_session(token: str) -> None:
    await BrowserSession.remove_session(token)


async def viewer_for(account_id: int) -> Viewer | None:
    from fabbooking.network.tables import Staff

    row = await Account.select(
        Account.id, Account.username, Account.role, Account.language, Account.active
    ).where(Account.id == account_id).first()
    if row is None or not row["active"]:
        return None
    sites = await Staff.select(Staff.site).where(Staff.account == account_id)
    return Viewer(
        account_id=row["id"],
        username=row["username"],
        role=row["role"],
        language=row["language"],
        staff_site_ids=frozenset(s["site"] for s in sites),
    )


async def find_account(username: str) -> Account | None:
    return await Account.objects().get(Account.username == normalise_username(username))


def roles_found_by(viewer: Viewer) -> tuple[str, ...] | None:
    """Whom a person may look up: admins anybody (None), animators the makers they serve at
    the desk; nobody else may search people."""
    if viewer.is_admin:
        return None
    if viewer.is_staff_anywhere:
        return (Role.maker.value,)
    raise Refused("forbidden")


async def search_accounts(text: str, limit: int = 50, roles: tuple[str, ...] | None = None) -> list[int]:
    """Ids of accounts whose username or display name contains ``text`` (any case), of
    these ``roles`` only when given."""
    from fabbooking import database
    from fabbooking.accounts.deletion import PLACEHOLDER_PREFIX

    # the placeholders of deleted accounts are nobody to find
    query = Account.select(Account.id).where(Account.username.not_like(PLACEHOLDER_PREFIX + "%")).order_by(
        Account.username).limit(limit)
    if roles is not None:
        query = query.where(Account.role.is_in(list(roles)))
    needle = text.strip().lower()
    if needle:
        pattern = f"%{needle}%"
        # SQLite's LIKE already ignores ASCII case; PostgreSQL needs ILIKE.
        if database.is_postgres():
            query = query.where(Account.username.ilike(pattern) | Account.display_name.ilike(pattern))
        else:
            query = query.where(Account.username.like(pattern) | Account.display_name.like(pattern))
    return [row["id"] for row in await query]


async def set_language(account_id: int, language: str) -> None:
    if language in ("fr", "en"):
        await Account.update({Account.language: language}).where(Account.id == account_id)


async def confirm_password(row: dict, password: str, client: str, refusal_code: str) -> None:
    """The account's own password, asked again before a change that matters (``row`` holds
    its username and hash); wrong guesses are throttled as logins are."""
    await throttle.record_try(row["username"], client)
    if not await passwords.matches(password, row["password"]):
        raise Refused(refusal_code)
    await throttle.forget(row["username"], client)


async def change_password(account_id: int, current: str, new: str, client: str,
                          keep_session: str | None = None) -> None:
    """Change one's own password; the current one must be given, and guessing it is
    throttled as a login is. Every browser session of the account ends but ``keep_session``
    (the one making the change): a device where someone else was logged in is logged out.
    API tokens stay; their owner sees and revokes them."""
    row = await Account.select(Account.username, Account.password).where(Account.id == account_id).first()
    if row is None:
        raise Refused("not_authenticated")
    await confirm_password(row, current, client, "bad_credentials")
    check_password(new)
    from fabbooking import database

    password_hash = await passwords.hashed(new)
    async with database.DB.transaction():
        await Account.update({Account.password: password_hash}).where(Account.id == account_id)
        others = BrowserSession.user_id == account_id
        if keep_session:
            others &= BrowserSession.token != keep_session
        await BrowserSession.delete().where(others)


async def set_password_at_desk(viewer: Viewer, account_id: int, new: str) -> None:
    """The desk gives a person a new password (they forgot theirs, with or without e-mail):
    animators for makers, admins for anyone. Every browser session of the account and any
    reset link end; API tokens stay."""
    from fabbooking import database
    from fabbooking.accounts.tables import PasswordReset

    if not viewer.is_staff_anywhere:
        raise Refused("forbidden")
    row = await Account.select(Account.role).where((Account.id == account_id) & Account.active.eq(True)).first()
    if row is None or (row["role"] != Role.maker.value and not viewer.is_admin):
        raise Refused.not_found(f"la personne n° {account_id}", f"person #{account_id}")
    check_password(new)
    password_hash = await passwords.hashed(new)
    async with database.DB.transaction():
        await Account.update({Account.password: password_hash}).where(Account.id == account_id)
        await BrowserSession.delete().where(BrowserSession.user_id == account_id)
        await PasswordReset.delete().where(PasswordReset.account == account_id)


async def set_role(viewer: Viewer, account_id: int, role: str,
                   site_slugs: list[str] | tuple[str, ...] = ()) -> None:
    """A network admin changes someone's role and, for an animator, the sites they work at.

    Account.admin and superuser (the back office) follow role == "admin"; Staff rows are
    replaced for an animator and removed for anyone else; the last active admin stays one.
    """
    from fabbooking import database
    from fabbooking.network.tables import Site, Staff

    if not viewer.is_admin:
        raise Refused("forbidden")
    if role not in {r.value for r in Role}:
        raise Refused("invalid_input", problems=f"rôle inconnu « {role} »",
                      problems_en=f"unknown role “{role}”")
    site_ids: list[int] = []
    if role == Role.animator.value:
        for slug in dict.fromkeys(site_slugs):
            site = await Site.select(Site.id).where(Site.slug == slug).first()
            if site is None:
                raise Refused.not_found(f"le lieu « {slug} »", f"the place “{slug}”")
            site_ids.append(site["id"])
        if not site_ids:
            raise Refused("animator_needs_site")
    is_admin = role == Role.admin.value
    async with database.write_transaction():  # IMMEDIATE on SQLite: one role change at a time
        if database.is_postgres():
            await Account.raw("SELECT id FROM account WHERE role = 'admin' FOR UPDATE")
        row = await Account.select(Account.role).where(Account.id == account_id).first()
        if row is None:
            raise Refused.not_found(f"la personne n° {account_id}", f"person #{account_id}")
        if row["role"] == Role.admin.value and not is_admin:
            others = await Account.count().where(
                (Account.role == Role.admin.value) & (Account.active == True)  # noqa: E712
                & (Account.id != account_id)
            )
            if not others:
                raise Refused("last_admin", status=409)
        await Account.update({Account.role: role, Account.admin: is_admin,
                              Account.superuser: is_admin}).where(Account.id == account_id)
        await Staff.delete().where(Staff.account == account_id)
        if site_ids:
            await Staff.insert(*[Staff(site=site_id, account=account_id) for site_id in site_ids])
