from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody, Parameter

from fabbooking.accounts import deletion, password_resets, personal_data, services, signup
from fabbooking.accounts.schemas import (
    AccountIn,
    AccountOut,
    Credentials,
    DeletionConfirm,
    Notice,
    PasswordChange,
    QualificationOut,
    ResetConfirm,
    ResetRequest,
    SignUpIn,
    TokenInfo,
    TokenOut,
    TokenRequest,
)
from fabbooking.accounts.tables import Account
from fabbooking.api.auth import (
    SESSION_COOKIE,
    CurrentViewer,
    client_address,
    require_login,
    set_session_cookie,
)
from fabbooking.api.cross_site import sent_with_token
from fabbooking.api.errors import error_responses, request_language
from fabbooking.errors import Refused
from fabbooking.messages import render
from fabbooking.network.tables import Staff
from fabbooking.training.services import qualifications_of_many


async def account_out(account_id: int, with_private: bool) -> AccountOut:
    found = await accounts_out([account_id], with_private)
    if not found:
        raise Refused.not_found(f"la personne n° {account_id}", f"person #{account_id}")
    return found[0]


async def accounts_out(account_ids: list[int], with_private: bool) -> list[AccountOut]:
    """The accounts in the order asked, in three queries whatever their number."""
    if not account_ids:
        return []
    rows = {r["id"]: r for r in await Account.select().where(Account.id.is_in(account_ids))}
    sites: dict[int, list[str]] = {}
    for staff in await Staff.select(Staff.account, Staff.site.slug.as_alias("slug")).where(
        Staff.account.is_in(account_ids)
    ).order_by(Staff.id):
        sites.setdefault(staff["account"], []).append(staff["slug"])
    quals = await qualifications_of_many(account_ids)
    return [
        AccountOut(
            id=row["id"], username=row["username"], display_name=row["display_name"],
            role=row["role"], language=row["language"],
            email=row["email"] if with_private else None,
            staff_of=sites.get(row["id"], []),
            qualifications=[_qualification_out(q) for q in quals.get(row["id"], [])],
        )
        for row in (rows.get(i) for i in account_ids) if row is not None
    ]


def _qualification_out(q: dict[str, Any]) -> QualificationOut:
    return QualificationOut(
        id=q["id"], training_id=q["training"], training_slug=q["training_slug"],
        training_name=q["training_name"], granted_on=q["granted_on"],
        expires_on=q["expires_on"], granted_at_site=q["granted_at_site"],
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]

    @post("/token", status_code=201, responses=error_responses(401, 422, 429))
    async def create_token(self, data: JSONBody[TokenRequest], request: Request) -> TokenOut:
        """Exchange a username and password for an API token (send it as `Bearer`), valid
        until revoked or, with `expires_in_days`, until then."""
        account_id = await services.check_login(data.username, data.password, client_address(request))
        expires_at = (datetime.now(UTC) + timedelta(days=data.expires_in_days)
                      if data.expires_in_days else None)
        token_id, token = await services.issue_token_with_id(account_id, data.label, expires_at)
        return TokenOut(token=token, id=token_id, expires_at=expires_at)

    @get("/tokens", responses=error_responses(401, 403))
    async def tokens(
        self, viewer: CurrentViewer,
        account_id: int | None = Parameter(default=None, ge=1, le=2**31 - 1,
                                           description="Someone else's (network admins only)."),
    ) -> list[TokenInfo]:
        """My API tokens (label, dates; never the secret), newest first."""
        rows = await services.list_tokens(require_login(viewer), account_id)
        return [TokenInfo(id=r["id"], label=r["label"], created_at=r["created_at"],
                          expires_at=r["expires_at"]) for r in rows]

    @delete("/tokens/{token_id:int}", status_code=204, responses=error_responses(401, 404))
    async def revoke_token(self, token_id: FromPath[int], viewer: CurrentViewer) -> None:
        """Revoke one of my tokens (network admins: anyone's); it opens nothing afterwards."""
        await services.revoke_token(require_login(viewer), token_id)

    @post("/login", status_code=200, responses=error_responses(401, 422, 429))
    async def login(self, data: JSONBody[Credentials], request: Request) -> Response[AccountOut]:
        """Open a browser session (an HttpOnly cookie)."""
        account_id = await services.check_login(data.username, data.password, client_address(request))
        token = await services.open_session(account_id)
        response = Response(await account_out(account_id, with_private=True))
        set_session_cookie(response, token, request)
        return response

    @post("/signup", status_code=201, responses=error_responses(409, 422, 429))
    async def signup(self, data: JSONBody[SignUpIn], request: Request) -> Response[AccountOut]:
        """Create my own maker account (no training yet; e-mail optional) and open a browser
        session. `accept_rules` must be true. Sign-ups are limited per address: 429
        `too_many_signups` with `Retry-After`."""
        account_id = await signup.sign_up(signup.SignUp(
            username=data.username, password=data.password, email=data.email, language=data.language,
            rules_accepted=data.accept_rules), client_address(request))
        response = Response(await account_out(account_id, with_private=True), status_code=201)
        set_session_cookie(response, await services.open_session(account_id), request)
        return response

    @post("/password-reset", status_code=202, responses=error_responses(422, 429))
    async def ask_for_reset(self, data: JSONBody[ResetRequest], request: Request) -> Notice:
        """Ask for a link to choose a new password, sent to the account's e-mail. The answer
        is the same whether the account exists, has an e-mail or not."""
        from fabbooking.settings import load_settings

        await password_resets.ask_for_link(data.who, client_address(request), load_settings().public_url)
        return Notice(detail=render("reset_link_sent", request_language(request)))

    @post("/password-reset/confirm", status_code=204, responses=error_responses(422))
    async def confirm_reset(self, data: JSONBody[ResetConfirm]) -> None:
        """Set a new password with the link's token (once, within the hour). Every browser
        session of the account ends."""
        await password_resets.use_link(data.token, data.new)

    @post("/logout", status_code=204)
    async def logout(self, request: Request) -> Response[None]:
        """Close the browser session."""
        if token := request.cookies.get(SESSION_COOKIE):
            await services.close_session(token)
        response = Response(None, status_code=204)
        response.delete_cookie(SESSION_COOKIE)
        return response


class UserController(Controller):
    path = "/users"
    tags = ["accounts"]

    @post("/me/password", status_code=204, responses=error_responses(401, 422, 429))
    async def change_password(self, data: JSONBody[PasswordChange], viewer: CurrentViewer,
                              request: Request) -> None:
        """Change my password: give the current one (wrong tries are slowed down as logins
        are). Every other browser session of mine ends; my API tokens stay."""
        keep = None if sent_with_token(request) else request.cookies.get(SESSION_COOKIE)
        await services.change_password(require_login(viewer).account_id, data.current, data.new,
                                       client_address(request), keep_session=keep)

    @get("/me/export", responses=error_responses(401))
    async def export(self, viewer: CurrentViewer) -> dict[str, Any]:
        """Everything kept about me, as one JSON document: profile, bookings, trainings,
        workshop registrations, projects, machine use during my bookings."""
        return await personal_data.personal_data(require_login(viewer).account_id, datetime.now(UTC))

    @delete("/me", status_code=204, responses=error_responses(401, 403, 409, 429))
    async def delete_me(self, data: JSONBody[DeletionConfirm], viewer: CurrentViewer, request: Request) -> None:
        """Delete my account (confirm with my password). My past bookings and machine use stay
        in the figures under « ancien membre »; docs/architecture.md says what becomes of projects."""
        await deletion.delete_own_account(require_login(viewer), data.password, client_address(request))

    @get("/me", responses=error_responses(401))
    async def me(self, viewer: CurrentViewer) -> AccountOut:
        """Who I am: role, the sites I work at, my trainings."""
        return await account_out(require_login(viewer).account_id, with_private=True)

    @post("/", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
    async def create(self, data: JSONBody[AccountIn], viewer: CurrentViewer) -> AccountOut:
        """Create an account. Animators create makers at the desk (no email needed);
        admins create any role, animators listed with the sites they work at."""
        require_login(viewer)
        account = await services.create_account(
            services.NewAccount(
                username=data.username, password=data.password, role=data.role,
                email=data.email, display_name=data.display_name, language=data.language,
                site_slugs=tuple(data.sites),
            ),
            created_by=viewer,
        )
        return await account_out(account.id, with_private=True)

    @get("/", responses=error_responses(401, 403))
    async def search(
        self, viewer: CurrentViewer,
        q: str = Parameter(default="", max_length=100, description="Part of a username or name."),
    ) -> list[AccountOut]:
        """Find people by name: animators find makers (to book on their behalf), without
        their e-mail; admins find anybody, with their e-mail."""
        roles = services.roles_found_by(require_login(viewer))
        return await accounts_out(await services.search_accounts(q, roles=roles), with_private=viewer.is_admin)


