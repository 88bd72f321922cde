"""Pages for one's own account: signing up, a forgotten password, downloading one's data,
deleting one's account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

from fabbooking.accounts import deletion, password_resets, personal_data, services, signup
from fabbooking.api.auth import SESSION_COOKIE, client_address, set_session_cookie
from fabbooking.errors import Refused
from fabbooking.settings import load_settings
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import _
from fabbooking.web.rendering import go, page, refusal_text, safe_next, with_retry_after

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the reset link's secret stays out of Referer


def _signup_page(request: Request, form: dict[str, str], error: str = "", status: int = 200) -> Template:
    return page(request, "accounts/signup.html", status=status, form=form, error=error,
                next=safe_next(form.get("next")))


def _reset_page(request: Request, token: str, *, works: bool, error: str = "", status: int = 200) -> Template:
    response = page(request, "accounts/password_reset.html", status=status, token=token, works=works,
                    error=error)
    response.headers.update(NO_REFERRER)
    return response


class AccountPages(Controller):
    include_in_schema = False

    @get("/signup")
    async def signup_form(self, request: Request, next: FromQuery[str] = "/") -> Response | Template:
        if request.state.viewer.is_authenticated:  # already has an account: nothing to sign up for
            return go(request, "/me/account")
        return _signup_page(request, {"next": next, "language": request.state.language})

    @post("/signup")
    async def signup(self, request: Request, data: Form) -> Response | Template:
        entered = {k: v for k, v in data.items() if k not in ("password", "again", "_csrf_token")}
        if data.get("password", "") != data.get("again", ""):
            return _signup_page(request, entered, _("Les deux mots de passe ne sont pas identiques."), 422)
        try:
            account_id = await signup.sign_up(signup.SignUp(
                username=data.get("username", ""), password=data.get("password", ""),
                email=data.get("email", "").strip() or None, language=data.get("language", "fr"),
                rules_accepted=data.get("rules") == "yes"), client_address(request))
        except Refused as refused:
            return with_retry_after(refused, _signup_page(request, entered, refusal_text(request, refused),
                                                          refused.status))
        target = safe_next(data.get("next"))
        response = go(request, "/me/account?done=welcome" if target == "/" else target)
        set_session_cookie(response, await services.open_session(account_id), request)
        return response

    @get("/password/forgotten")
    async def forgotten_form(self, request: Request) -> Template:
        return page(request, "accounts/password_forgotten.html", sent=False, error="")

    @post("/password/forgotten")
    async def forgotten(self, request: Request, data: Form) -> Template:
        try:
            await password_resets.ask_for_link(data.get("who", ""), client_address(request),
                                               load_settings().public_url)
        except Refused as refused:
            return with_retry_after(refused, page(request, "accounts/password_forgotten.html", sent=False,
                                                  error=refusal_text(request, refused), status=refused.status))
        return page(request, "accounts/password_forgotten.html", sent=True, error="")

    @get("/password/reset/{token:str}")
    async def reset_form(self, request: Request, token: FromPath[str]) -> Template:
        works = await password_resets.link_works(token)
        return _reset_page(request, token, works=works, status=200 if works else 410,
                           error="" if works else refusal_text(request, Refused("reset_link_invalid")))

    @post("/password/reset/{token:str}")
    async def reset(self, request: Request, token: FromPath[str], data: Form) -> Response | Template:
        if data.get("new", "") != data.get("again", ""):
            return _reset_page(request, token, works=True, status=422,
                               error=_("Les deux nouveaux mots de passe ne sont pas identiques."))
        try:
            account_id = await password_resets.use_link(token, data.get("new", ""))
        except Refused as refused:
            works = refused.code != "reset_link_invalid"
            return _reset_page(request, token, works=works, error=refusal_text(request, refused),
                               status=refused.status if works else 410)
        response = go(request, "/me/account?done=reset")
        response.headers.update(NO_REFERRER)
        set_session_cookie(response, await services.open_session(account_id), request)
        return response

    @get("/me/account/data.json")
    async def my_data(self, request: Request) -> Response:
        viewer = signed_in(request)
        return Response(await personal_data.personal_data(viewer.account_id, datetime.now(UTC)), headers={
            "Content-Disposition": 'attachment; filename="fabbooking-mes-donnees.json"',
            "Cache-Control": "no-store"})

    @get("/me/account/delete")
    async def delete_form(self, request: Request) -> Template:
        signed_in(request)
        return page(request, "accounts/delete.html", error="")

    @post("/me/account/delete")
    async def delete(self, request: Request, data: Form) -> Response | Template:
        viewer = signed_in(request)
        try:
            await deletion.delete_own_account(viewer, data.get("password", ""), client_address(request))
        except Refused as refused:
            return with_retry_after(refused, page(request, "accounts/delete.html", status=refused.status,
                                                  error=refusal_text(request, refused)))
        response = go(request, "/account-deleted")
        response.delete_cookie(SESSION_COOKIE)
        return response

    @get("/account-deleted")
    async def deleted(self, request: Request) -> Template:
        return page(request, "accounts/deleted.html")
