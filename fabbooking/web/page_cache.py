"""Pages kept as they were rendered, and served again until anything they show may have
changed — so a booking, a cancellation or a machine's new state is on the very next page.

A kept page is valid for one *generation*: the database's data version (fabbooking.data_version:
it changes with every commit, of any connection or process) and the current minute of the
app's clock (what a page shows of time — past cells, open now, cancellable until — moves at
whole minutes). Only the pages of the last two generations are kept (a request that read an
older version than another's may still find its own); the older ones are dropped.

Within a generation a page is found by everything it depends on: its path and query, the
host, the language chosen for the request, the viewer (account, role, language and sites, or
anonymous), the htmx headers that choose a fragment, and whether the demo's banner shows.
The CSRF token a page embeds is not kept: the page is kept cut at the token, and each visitor
gets their own (their cookie's, or a new one with its cookie, as Litestar's CSRF middleware
does), so no token ever reaches another visitor. The API's JSON answers (outside the CSRF
middleware) are kept whole and served with no token and no cookie.

The viewer comes from the session cookie or, for the API, from ``Authorization: Bearer``:
the token's rows are read once per generation and kept by the token's digest (a revocation
is a write, so a new generation), its expiry checked on every request, as a session's is.
An Authorization that is not a well-formed Bearer token, or a token sent with a session
cookie, goes to the app (which refuses or answers, uncached).

It sits outside Litestar's whole stack: a page found here skips routing, the middleware and
hooks (their headers were kept with the page), the handler's queries and the rendering.
What it costs is one statement (the data version), plus the session's lookup once per
generation. Only the routes marked ``opt=CACHED`` are kept, and only an answer 200 that sets
no cookie but the CSRF one (none for JSON); their handlers must answer alike for the whole
minute (fabbooking.api.moments.this_minute). FABBOOKING_PAGE_CACHE=off turns it off.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar
from litestar._parsers import parse_cookie_string
from litestar.config.csrf import CSRFConfig
from litestar.datastructures.cookie import Cookie
from litestar.middleware.csrf import generate_csrf_token
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from fabbooking import data_version
from fabbooking.accounts import identify
from fabbooking.accounts.viewer import ANONYMOUS, Viewer
from fabbooking.api.auth import SESSION_COOKIE, TOKEN_VIEWER_FOUND, VIEWER_FOUND
from fabbooking.messages import choose_language
from fabbooking.usage.demo_live import banner_shown
from fabbooking.web.i18n import LANGUAGE_COOKIE

CACHED = {"page_cache": True}  # the routes whose pages may be kept: ``@get(..., opt=CACHED)``
MAX_PAGES = 4096
MAX_BYTES = 64 * 1024 * 1024
MAX_PAGE_BYTES = 1024 * 1024
GENERATIONS_KEPT = 2  # PostgreSQL's marks can arrive out of order from concurrent requests
MIN_COMPRESSED = 512  # as the app's CompressionConfig(minimum_size=512)
_TOKEN = re.compile(rb"[0-9a-f]{128}")  # Litestar's: 64 random hex digits, then their HMAC
_NOT_KEPT = {b"content-length", b"content-encoding", b"set-cookie"}
_HTMX = (b"hx-request", b"hx-boosted", b"hx-history-restore-request")
_ONCE = frozenset({b"cookie", b"host", b"accept-language", b"accept-encoding", b"authorization", *_HTMX})
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


@dataclass(frozen=True, slots=True)
class Page:
    path_template: str
    headers: tuple[tuple[bytes, bytes], ...]  # as sent, without length, encoding and cookies
    pieces: tuple[bytes, ...]  # the body, cut where the CSRF token was
    deflated: tuple[bytes, ...]  # each piece deflated on its own, the stream ended after the last
    size: int
    csrf: bool = True  # the answer came through the CSRF middleware (else no token, no cookie: JSON)


def _deflated(pieces: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """Raw deflate of each piece, byte-aligned and independent (a full flush), so that any
    token can be put between them as a stored block; the last piece ends the stream."""
    out = []
    for number, piece in enumerate(pieces):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        last = number == len(pieces) - 1
        out.append(compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH))
    return tuple(out)


def _stored_block(data: bytes) -> bytes:
    """``data`` as a deflate stored block, not the last one (``data`` under 64 KiB)."""
    return b"\x00" + len(data).to_bytes(2, "little") + (0xFFFF ^ len(data)).to_bytes(2, "little") + data


def gzipped(page: Page, token: bytes, body: bytes) -> bytes:
    stream = page.deflated[0]
    for piece in page.deflated[1:]:
        stream += _stored_block(token) + piece
    return (_GZIP_HEADER + stream + zlib.crc32(body).to_bytes(4, "little")
            + (len(body) & 0xFFFFFFFF).to_bytes(4, "little"))


@dataclass(slots=True)
class Drawer:
    """What one generation keeps: pages, and the sessions' and API tokens' rows (who is
    looking; a token by its digest, never as it was sent)."""

    pages: dict[Hashable, Page]
    sessions: dict[str, list[dict[str, Any]]]
    tokens: dict[str, list[dict[str, Any]]]


class Shelf:
    """The kept pages of the last generations, bounded in count and bytes."""

    def __init__(self, max_pages: int = MAX_PAGES, max_bytes: int = MAX_BYTES) -> None:
        self.max_pages, self.max_bytes = max_pages, max_bytes
        self._drawers: OrderedDict[Hashable, Drawer] = OrderedDict()
        self.pages = self.bytes = 0

    def drawer(self, generation: Hashable) -> Drawer:
        """The drawer of ``generation``, which becomes the latest; the oldest are dropped."""
        drawer = self._drawers.get(generation)
        if drawer is None:
            drawer = self._drawers[generation] = Drawer({}, {}, {})
            while len(self._drawers) > GENERATIONS_KEPT:
                self._forget(self._drawers.popitem(last=False)[1].pages.values())
        elif next(reversed(self._drawers)) != generation:
            self._drawers.move_to_end(generation)
        return drawer

    def keep(self, generation: Hashable, key: Hashable, page: Page) -> None:
        drawer = self._drawers.get(generation)
        if drawer is None:  # its generation is gone: the page is older than what is kept
            return
        if key in drawer.pages:
            self._forget([drawer.pages.pop(key)])
        while self.pages and (self.pages >= self.max_pages or self.bytes + page.size > self.max_bytes):
            oldest = next(drawer.pages for drawer in self._drawers.values() if drawer.pages)
            self._forget([oldest.pop(next(iter(oldest)))])
        if page.size <= self.max_bytes:
            drawer.pages[key] = page
            self.pages += 1
            self.bytes += page.size

    def _forget(self, pages) -> None:
        for page in pages:
            self.pages -= 1
            self.bytes -= page.size

    def clear(self) -> None:
        self._drawers.clear()
        self.pages = self.bytes = 0


@dataclass(slots=True)
class Asked:
    """What a page may depend on, read from a GET request before the app runs."""

    headers: dict[bytes, bytes]
    cookies: dict[str, str]
    csrf: bytes | None  # the visitor's CSRF cookie (a well-formed token), or None
    bearer: str | None  # the API token of ``Authorization: Bearer <token>``, or None

    @classmethod
    def read(cls, scope: Scope, csrf_cookie: str) -> Asked | None:
        """None for a request this cache leaves to the app: duplicated headers that matter,
        a NUL, a malformed CSRF cookie."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in headers and name in _ONCE:
                return None
            headers[name] = value
        cookie = headers.get(b"cookie")
        cookies = parse_cookie_string(cookie.decode("latin-1")) if cookie else {}
        raw_csrf = cookies.get(csrf_cookie)
        csrf = raw_csrf.encode() if raw_csrf is not None else None
        if csrf is not None and not _TOKEN.fullmatch(csrf):
            return None
        bearer = None
        authorization = headers.get(b"authorization")
        if authorization:  # as provide_viewer reads it; anything else is the app's to refuse
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            bearer = token.strip()
            if scheme.lower() != "bearer" or not bearer or "\x00" in bearer or SESSION_COOKIE in cookies:
                return None  # with a session too, pages would show the session's viewer: not kept
        return cls(headers, cookies, csrf, bearer)


def _minute() -> int:
    """The app clock's current minute, the second half of a generation."""
    return int(datetime.now(UTC).timestamp()) // 60


class PageCache:
    """The ASGI app ``app``, its kept pages served before it runs (see the module's docstring)."""

    def __init__(self, app: ASGIApp, csrf: CSRFConfig, routes: re.Pattern[str],
                 shelf: Shelf | None = None) -> None:
        self.app = app
        self.csrf = csrf
        self.routes = routes
        self.shelf = shelf or Shelf()
        self._csrf_cookie = csrf.cookie_name
        self._cookie_before, self._cookie_after = self._cookie_template(csrf)
        self.hits = self.misses = 0
        self._rendering: dict[tuple[Hashable, Hashable], asyncio.Future[Page | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not self._kept_route(scope["path"]):
            await self.app(scope, receive, send)
            return
        asked = Asked.read(scope, self._csrf_cookie)
        if asked is not None and asked.bearer is not None and not scope["path"].startswith("/api/"):
            asked = None  # a page asked with a token: pages do not read it (their language neither)
        generation = await self._generation() if asked is not None else None
        if asked is None or generation is None:
            await self.app(scope, receive, send)
            return
        viewer = await self._viewer(asked, generation)
        if viewer is None:  # a session to extend (a write) or a token refused: the app answers
            await self.app(scope, receive, send)
            return
        # the API answers in the token's account's language (provide_viewer)
        language = viewer.language if asked.bearer is not None else self._language(scope, asked, viewer)
        key = self._key(scope, asked, viewer, language)
        page = self.shelf.drawer(generation).pages.get(key)
        if page is None:
            # The same page asked while it is being rendered (32 visitors when the minute turns)
            # waits for that rendering: same generation, so it is as valid for them.
            rendering = self._rendering.get((generation, key))
            if rendering is not None:
                page = await asyncio.shield(rendering)
                if page is None:
                    await self._render_and_keep(scope, receive, send, asked, viewer, generation, key, language)
                    return
        if page is not None:
            self.hits += 1
            scope["path_template"] = page.path_template  # type: ignore[typeddict-unknown-key]
            await self._serve(page, asked, send)
            return
        rendering = self._rendering[generation, key] = asyncio.get_running_loop().create_future()
        page = None
        try:
            page = await self._render_and_keep(scope, receive, send, asked, viewer, generation, key, language)
        finally:
            del self._rendering[generation, key]
            rendering.set_result(page)

    def _kept_route(self, path: str) -> bool:
        return self.routes.fullmatch(path) is not None

    async def _generation(self) -> tuple[Any, int] | None:
        version = await data_version.current()
        if version is None:
            return None
        return (version, _minute())

    # --- who is looking: the session's rows, read once per generation -----------------------

    async def _viewer(self, asked: Asked, generation: Hashable) -> Viewer | None:
        if asked.bearer is not None:
            return await self._token_viewer(asked.bearer, generation)
        token = asked.cookies.get(SESSION_COOKIE)
        if not token:
            return ANONYMOUS
        rows = await self._rows_once(self.shelf.drawer(generation).sessions, token, identify.session_rows)
        viewer, extend = identify.session_viewer_at(rows, datetime.now())
        if extend:
            return None
        return viewer or ANONYMOUS

    async def _token_viewer(self, token: str, generation: Hashable) -> Viewer | None:
        """The API token's account, its rows read once per generation (a revocation is a
        write: a new generation) and its expiry checked now; None (the app refuses) for a
        token unknown, revoked, expired or of an inactive account."""
        digest = identify.token_digest(token)
        rows = await self._rows_once(self.shelf.drawer(generation).tokens, digest, identify.token_rows)
        return identify.token_viewer_at(rows, datetime.now(UTC))

    async def _rows_once(self, known: dict[str, list[dict[str, Any]]], key: str,
                         read: Callable[[str], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
        """``read(key)``, once per generation (``known`` is that generation's, bounded)."""
        rows = known.get(key)
        if rows is None:
            rows = await read(key)
            if len(known) < self.shelf.max_pages:
                known[key] = rows
        return rows

    @staticmethod
    def _language(scope: Scope, asked: Asked, viewer: Viewer) -> str:
        """The page's language, as the app chooses it (fabbooking.web.context.resolve_viewer;
        a page is kept only if the app chose the same)."""
        query: bytes = scope.get("query_string", b"")
        asked_language = None
        if b"lang" in query:
            asked_language = next((v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
                                   if k == "lang"), None)
        accept = asked.headers.get(b"accept-language")
        return choose_language(asked_language, asked.cookies.get(LANGUAGE_COOKIE), viewer.language,
                               accept.decode("latin-1") if accept is not None else None)

    @staticmethod
    def _key(scope: Scope, asked: Asked, viewer: Viewer, language: str) -> Hashable:
        query: bytes = scope.get("query_string", b"")
        headers = asked.headers
        return ("page", scope["path"], query, headers.get(b"host"), scope.get("scheme"), language, viewer,
                asked.bearer is not None,  # a page asked with a token shows no session
                *(headers.get(name) for name in _HTMX), banner_shown())

    # --- a kept page, with this visitor's token --------------------------------------------

    async def _serve(self, page: Page, asked: Asked, send: Send) -> None:
        headers = list(page.headers)
        token = asked.csrf or b""
        if page.csrf and not token:
            token = generate_csrf_token(self.csrf.secret).encode()
            headers.append((b"set-cookie", self._csrf_cookie_header(token.decode())))
        body = token.join(page.pieces) if len(page.pieces) > 1 else page.pieces[0]
        if b"gzip" in asked.headers.get(b"accept-encoding", b"") and len(body) >= MIN_COMPRESSED:
            body = gzipped(page, token, body)
            headers.append((b"content-encoding", b"gzip"))
            headers = _vary_accept_encoding(headers)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _csrf_cookie_header(self, token: str) -> bytes:
        """The Set-Cookie header Litestar's CSRF middleware writes (made once, then filled in:
        Litestar makes it anew through dataclasses and SimpleCookie, a quarter of a hit)."""
        return self._cookie_before + token.encode("latin-1") + self._cookie_after

    @staticmethod
    def _cookie_template(config: CSRFConfig) -> tuple[bytes, bytes]:
        placeholder = "0" * 128
        cookie = Cookie(key=config.cookie_name, value=placeholder, path=config.cookie_path,
                        secure=config.cookie_secure, httponly=config.cookie_httponly,
                        samesite=config.cookie_samesite, domain=config.cookie_domain)
        before, found, after = cookie.to_header(header="").encode("latin-1").partition(placeholder.encode())
        assert found, "the token is in the cookie as it is"
        return before, after

    # --- a page rendered by the app, kept when it may be ----------------------------------

    async def _render_and_keep(self, scope: Scope, receive: Receive, send: Send, asked: Asked, viewer: Viewer,
                               generation: Hashable, key: Hashable, language: str) -> Page | None:
        """The app's answer, sent; the page, if it may be kept (and then kept)."""
        self.misses += 1
        # who is looking, found above: the session's, or the Bearer token's (for the API only)
        scope[VIEWER_FOUND if asked.bearer is None else TOKEN_VIEWER_FOUND] = viewer  # type: ignore[literal-required]
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []
        complete = False

        async def seen_send(message: Message) -> None:
            nonlocal start, complete
            if message["type"] == "http.response.start":
                start = dict(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, seen_send)
        if start is None or not complete or start["status"] != 200:
            return None
        handler = scope.get("route_handler")
        if handler is None or not handler.opt.get("page_cache"):
            return None
        chosen = scope.get("state", {}).get("language")  # type: ignore[attr-defined]
        if chosen != language and not (chosen is None and _is_json(start)):
            return None  # the app read the request otherwise than _language did: not kept
        page = self._page(scope, start, b"".join(chunks), asked)
        if page is None or not self._still(generation):
            return None
        self.shelf.keep(generation, key, page)
        return page

    @staticmethod
    def _still(generation: tuple[Any, int]) -> bool:
        """The minute has not turned while the page was rendered (it would show the next one's)."""
        return _minute() == generation[1]

    def _page(self, scope: Scope, start: dict[str, Any], body: bytes, asked: Asked) -> Page | None:
        kept: list[tuple[bytes, bytes]] = []
        encoding = b""
        token = ScopeState.from_scope(scope).csrf_token
        if token is Empty:  # where the CSRF middleware is off (the API's JSON): no token, no cookie
            token = None
        elif not isinstance(token, str) or not _TOKEN.fullmatch(token.encode()):
            return None
        for name, value in start.get("headers", ()):
            name = name.lower()
            if name == b"set-cookie":
                if token is None or not value.startswith(self._csrf_cookie.encode() + b"="):
                    return None  # a page that sets a cookie is that visitor's alone
            elif name == b"content-encoding":
                encoding = value
            elif name.startswith(b"hx-"):
                return None
            elif name == b"vary":
                kept.append((name, _without_accept_encoding(value)))
            elif name not in _NOT_KEPT:
                kept.append((name, value))
        if encoding == b"gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif encoding:
            return None
        if len(body) > MAX_PAGE_BYTES:
            return None
        if token is None:
            pieces: tuple[bytes, ...] = (body,)
        else:
            pieces = tuple(body.split(token.encode()))
        if len(pieces) > 1 and asked.csrf is not None and asked.csrf != token.encode():
            return None
        deflated = _deflated(pieces)
        return Page(path_template=scope.get("path_template", ""), headers=tuple(kept), pieces=pieces,
                    deflated=deflated, size=sum(map(len, pieces)) + sum(map(len, deflated)) + 512,
                    csrf=token is not None)


def _is_json(start: dict[str, Any]) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"application/json")
               for name, value in start.get("headers", ()))


def _without_accept_encoding(value: bytes) -> bytes:
    return b", ".join(v.strip() for v in value.split(b",") if v.strip().lower() != b"accept-encoding")


def _vary_accept_encoding(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for number, (name, value) in enumerate(headers):
        if name == b"vary":
            headers[number] = (name, value + b", Accept-Encoding" if value else b"Accept-Encoding")
            return headers
    headers.append((b"vary", b"Accept-Encoding"))
    return headers


def route_pattern(paths: list[str]) -> re.Pattern[str]:
    """Litestar path formats (``/sites/{slug:str}``) as one pattern a request's path must
    match (after the app ran, the route it took must be a kept one too)."""
    patterns = []
    for path in paths:
        regex = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        regex = re.sub(r"\{\w+:int\}", "[0-9]+", regex)
        patterns.append(re.sub(r"\{\w+(:\w+)?\}", "[^/]+", regex))
    return re.compile("|".join(f"(?:{p})" for p in patterns) or "(?!)")


def kept_routes(app: Litestar) -> list[str]:
    """The paths of the app's GET routes marked ``opt=CACHED``."""
    return [route.path for route in app.routes if isinstance(route, HTTPRoute)
            for handler in route.route_handlers if "GET" in handler.http_methods and handler.opt.get("page_cache")]
