"""Errors as pages that tell a person what to do next; the API keeps its {code, detail}.

One set of exception handlers serves the whole app and picks the form by path.
"""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from fabbooking.accounts.viewer import ANONYMOUS
from fabbooking.api import errors as api
from fabbooking.api.hostile_input import invalid_value
from fabbooking.errors import Refused
from fabbooking.messages import choose_language, render
from fabbooking.outage import OUTAGE, RETRY_AFTER_S, is_database_unavailable
from fabbooking.web.context import SECURITY_HEADERS
from fabbooking.web.guards import LoginNeeded
from fabbooking.web.i18n import _, current_language

log = logging.getLogger("fabbooking")
JSON_PREFIXES = ("/api/", "/schema")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES)


def _ensure_page_state(request: Request) -> None:
    """Errors raised before the page hooks ran (unknown address) still need a language."""
    if not hasattr(request.state, "viewer"):
        request.state.viewer = ANONYMOUS
    if not hasattr(request.state, "language"):
        request.state.language = choose_language(
            request.query_params.get("lang"), request.cookies.get("lang"), None,
            request.headers.get("accept-language"))
    current_language.set(request.state.language)


def error_page(request: Request, status: int, message: str) -> Template:
    _ensure_page_state(request)
    titles = {
        403: _("Vous n'avez pas accès à cette page"),
        404: _("Page introuvable"),
        405: _("Action impossible ici"),
        429: _("Trop d'essais"),
        500: _("Une erreur s'est produite"),
        503: _("Réessayez dans un instant"),
    }
    title = titles.get(status, _("La demande n'a pas abouti"))
    headers = dict(SECURITY_HEADERS)
    if request.headers.get("hx-request"):
        # an htmx form that failed this way (e.g. an expired form) shows the whole error page
        headers.update({"HX-Retarget": "body", "HX-Reswap": "innerHTML"})
    return Template(template_name="error.html", status_code=status, headers=headers,
                    context={"title": title, "message": message, "status": status})


def refused_handler(request: Request, exc: Refused) -> Response:
    if _is_api(request):
        return api.refused_handler(request, exc)
    _ensure_page_state(request)
    return error_page(request, exc.status, render(exc.code, request.state.language, **exc.params))


def validation_handler(request: Request, exc: ValidationException) -> Response:
    if _is_api(request):
        return api.validation_handler(request, exc)
    return error_page(request, 422, _("Certaines informations du formulaire sont incorrectes. "
                                      "Revenez en arrière, vérifiez et réessayez."))


def http_handler(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, LoginNeeded):
        return Redirect(path=exc.next_url, status_code=303)
    if _is_api(request):
        return api.http_handler(request, exc)
    _ensure_page_state(request)
    status = exc.status_code
    if status >= 500:
        return server_error_handler(request, exc)
    messages = {
        403: _("Si vous venez d'un formulaire, il a peut-être expiré : rechargez la page et "
               "recommencez. Sinon, demandez à l'équipe du lieu."),
        404: _("Cette adresse ne mène à rien. Revenez à la liste des lieux et des machines."),
        405: _("Cette action n'existe pas à cette adresse. Revenez à la page précédente."),
        413: _("Ce que vous envoyez est trop gros. Revenez à la page précédente et envoyez une "
               "photo ou un fichier plus léger, ou en plusieurs fois."),
    }
    page = error_page(request, status, messages.get(status, _("Revenez à la page précédente et réessayez.")))
    if status == 405 and (allowed := api.allowed_methods(exc)):
        page.headers["Allow"] = allowed
    return page


def server_error_handler(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return api.server_error_handler(request, exc)
    if is_database_unavailable(exc):
        OUTAGE.noticed(exc)
        page = error_page(request, 503, _(
            "Le service ne répond pas pour le moment. Attendez quelques secondes, puis rechargez "
            "la page. Si vous veniez d'enregistrer quelque chose, vérifiez ensuite que c'est "
            "bien fait avant de recommencer."))
        page.headers["Retry-After"] = str(RETRY_AFTER_S)
        return page
    if (refused := invalid_value(exc)) is not None:
        return refused_handler(request, refused)
    # the route, not the path: a path can hold a secret (a private calendar feed's token)
    log.exception("unexpected error on %s %s", request.method, request.scope.get("path_template", "?"), exc_info=exc)
    return error_page(request, 500, _("Rien n'a été enregistré. Réessayez dans un instant ; si "
                                      "cela recommence, prévenez l'équipe du lieu."))


EXCEPTION_HANDLERS = {
    Refused: refused_handler,
    ValidationException: validation_handler,
    HTTPException: http_handler,
    Exception: server_error_handler,
}
