"""Writes another website cannot make in a visitor's name.

A browser sends the session cookie with any request to us, whichever page started it. Two
rules keep another site from using that (login CSRF included: being logged in to an
attacker's account without noticing):

- API writes take JSON only (``application/json``; uploads take ``multipart/form-data``
  where the endpoint says so). A plain HTML form elsewhere can send ``text/plain`` or a
  form body but not JSON, and a script elsewhere cannot send JSON to us without the CORS
  permission we never give.
- A write without a Bearer token (the session cookie, or a login) that says where it comes
  from (``Origin``, else ``Referer``) must come from FABBOOKING_PUBLIC_URL or from the very
  address it was sent to. Browsers always say it for a write from another site; scripts with
  a token are not concerned.

The pages' forms carry Litestar's CSRF token instead (see app.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar import Request

from fabbooking.errors import Refused

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MULTIPART_OPT = "multipart_body"  # handler opt: this endpoint takes an upload form


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def sent_with_token(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer ")


def allowed_origins(request: Request) -> set[str]:
    from fabbooking.settings import public_url

    # the public address alone, not every setting parsed again on each write
    own = {_origin(str(request.base_url)), _origin(public_url())}
    return {origin for origin in own if origin}


def refuse_cross_site_writes(request: Request) -> None:
    """Refuse (415) an API write whose body is not JSON, and (403) a cookie or login write
    that says it comes from another site."""
    if request.method not in WRITES:
        return
    if has_body(request):
        accepted = {"application/json"}
        if request.route_handler.opt.get(MULTIPART_OPT):
            accepted.add("multipart/form-data")
        if media_type(request) not in accepted:
            raise Refused("json_only", media_type=media_type(request) or "?")
    if sent_with_token(request):
        return
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return  # not a browser: nothing another site could have sent
    if _origin(claimed) not in allowed_origins(request):
        raise Refused("cross_site")
