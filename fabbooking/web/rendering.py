"""One rule for page or fragment, and for redirects after a form, with or without htmx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

from litestar import Request
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from fabbooking.errors import Refused
from fabbooking.messages import render
from fabbooking.web.i18n import _

VARY = {"Vary": "HX-Request"}


def wants_fragment(request: Request) -> bool:
    """htmx asked for a piece of the page (not a boosted navigation or a history restore)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def page(request: Request, template: str, fragment: str | None = None, *, status: int = 200,
         **context: Any) -> Template:
    """Render the whole page, or only ``fragment`` (a ``_piece.html`` the page includes)."""
    name = fragment if fragment and wants_fragment(request) else template
    return Template(template_name=name, context=context, status_code=status, headers=VARY)


def go(request: Request, url: str) -> Redirect | ClientRedirect:
    """After a successful form: a 303 for browsers, HX-Redirect for htmx."""
    if isinstance(request, HTMXRequest) and request.htmx:
        return ClientRedirect(redirect_to=url)
    return Redirect(path=url, status_code=303)


def refusal_text(request: Request, refused: Refused) -> str:
    """A refusal in the words of the page's language, to show next to the form."""
    return render(refused.code, request.state.language, **refused.params)


def with_retry_after(refused: Refused, response: Template) -> Template:
    """A page refused for too many tries says, to scripts too, when to try again."""
    if "retry_after" in refused.params:
        response.set_header("Retry-After", str(refused.params["retry_after"]))
    return response


# Every printable ASCII character but the space stays as it is; anything else (spaces,
# control characters, letters with accents) is percent-encoded, so the result is a safe
# Location header whatever was sent.
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only follow a ``next`` that stays on this site: a path (with its query) on this
    server, never ``//host``, ``/\\host`` (browsers read a backslash as a slash) or a URL."""
    if not target:
        return default
    target = quote(target, safe=_PRINTABLE)
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target):
        return default
    return target


def without_query_parameter(target: str, name: str) -> str:
    """``target`` without the query parameter ``name``; the rest of the query kept as it was written."""
    parts = urlsplit(target)
    kept = [pair for pair in parts.query.split("&") if pair and unquote_plus(pair.partition("=")[0]) != name]
    query = "&".join(kept)
    return parts.path + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def fields_to_correct() -> str:
    """What a form refused for its fields says above them."""
    return _("Rien n'a été enregistré : corrigez les champs signalés ci-dessous.")
