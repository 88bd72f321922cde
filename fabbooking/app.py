"""The web application: pages for people, JSON API under /api/v1, OpenAPI at /schema,
Piccolo Admin at /admin."""

from __future__ import annotations

import os

from litestar import Litestar, Request, Response, Router, get
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from litestar.plugins.htmx import HTMXPlugin
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

from fabbooking import __version__, database, long_lived
from fabbooking.accounts.controllers import AuthController, UserController
from fabbooking.admin import admin_mount
from fabbooking.api.auth import provide_viewer
from fabbooking.api.cross_site import refuse_cross_site_writes
from fabbooking.api.docs_page import SwaggerPage
from fabbooking.api.errors import UNAVAILABLE
from fabbooking.api.hostile_input import DropNulCharacters, refuse_impossible_ids
from fabbooking.api.schema_truth import tell_the_truth
from fabbooking.bookings.controllers import AvailabilityController, BookingController
from fabbooking.figures import routes as figures_routes
from fabbooking.network.controllers import MachineController, SiteController
from fabbooking.observability.endpoint import metrics_endpoint
from fabbooking.observability.requests import RequestObserver
from fabbooking.outage import database_answers
from fabbooking.projects import routes as projects_routes
from fabbooking.settings import db_pool_size, load_settings, page_cache_on
from fabbooking.training.controllers import QualificationController, TrainingController
from fabbooking.usage.controllers import MachineUsageController, UsageController
from fabbooking.usage.runtime import UsageRuntime
from fabbooking.waiting.controllers import WaitingListController
from fabbooking.web.context import add_security_headers
from fabbooking.web.errors import EXCEPTION_HANDLERS
from fabbooking.web.page_cache import PageCache, kept_routes, route_pattern
from fabbooking.web.routes import static_router, web_router
from fabbooking.web.templating import template_config
from fabbooking.workshops import routes as workshops_routes


async def _open_pool() -> None:
    await database.start_serving_pool(max_size=db_pool_size())


async def _close_pool() -> None:
    if database.is_postgres():
        await database.DB.close_connection_pool()


_usage = UsageRuntime()


async def _api_edge(request: Request) -> None:
    await refuse_impossible_ids(request)
    refuse_cross_site_writes(request)


async def _demo_banner() -> None:
    """Web processes of ``serve --workers``: their worker plays the demo, the pages say so."""
    from fabbooking.usage.demo_live import note_demo_banner

    await note_demo_banner(embedded_broker=not load_settings().mqtt_url)


async def allow_every_method(message: Message, scope: Scope) -> None:
    """An OPTIONS answer's `Allow` names every method of its address: Litestar's own names
    only those of the handler group it was made for (`OPTIONS, POST` at /api/v1/machines)."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    template = scope.get("path_template")  # type: ignore[typeddict-item]
    methods = _methods_by_route(scope["app"]).get(template) if template else None
    if methods:
        MutableScopeHeaders.from_message(message)["Allow"] = methods


_METHODS: dict[int, dict[str, str]] = {}


def _methods_by_route(app: Litestar) -> dict[str, str]:
    if id(app) not in _METHODS:
        _METHODS[id(app)] = {route.path_format: ", ".join(sorted(route.methods))
                             for route in app.routes if isinstance(route, HTTPRoute)}
    return _METHODS[id(app)]


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, cache=False)
async def readyz() -> Response[dict[str, str]]:
    """Ready for traffic: the database answers within FABBOOKING_DB_TIMEOUT_S, and the usage
    listener, when this process runs one, is connected to its broker. 503 says which is down."""
    parts = {"database": "ok" if await database_answers() else "down"}
    if (connected := _usage.listener_connected) is not None:
        parts["listener"] = "ok" if connected else "down"
    ready = all(state == "ok" for state in parts.values())
    return Response({"status": "ok" if ready else "unavailable", **parts},
                    status_code=200 if ready else 503)


def create_app(*, use_pool: bool = True, production: bool | None = None, run_usage: bool = True) -> Litestar:
    """The ASGI app. ``production`` (default: FABBOOKING_PUBLIC_URL is https) makes the back
    office's cookies Secure; ``run_usage`` starts the MQTT listener and the no-show sweeper
    with the app (tests that drive the app in-process turn it off)."""
    settings = load_settings()
    # `fabbooking serve --workers N` runs the background jobs once, in its worker process
    background_elsewhere = os.environ.get("FABBOOKING_BACKGROUND", "on") == "off"
    run_usage = run_usage and not background_elsewhere
    if production is None:
        production = settings.https
    api = Router(
        path="/api/v1",
        route_handlers=[
            AuthController, UserController, SiteController, MachineController,
            TrainingController, QualificationController, BookingController,
            AvailabilityController, MachineUsageController, UsageController,
            *projects_routes.API_CONTROLLERS, *workshops_routes.API_CONTROLLERS,
            *figures_routes.API_CONTROLLERS, WaitingListController,
        ],
        before_request=_api_edge,
    )
    app = Litestar(
        route_handlers=[api, web_router(), static_router(), healthz, readyz, metrics_endpoint(settings.metrics_allow),
                        admin_mount(database.app_tables(), production)],
        template_config=template_config(),
        csrf_config=CSRFConfig(
            secret=settings.secret_key, cookie_name="fabbooking_csrf", cookie_secure=settings.https,
            cookie_httponly=True, exclude=["/api/", "/admin", "/schema"],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=512),
        middleware=[DropNulCharacters()],
        before_send=[add_security_headers, allow_every_method],
        plugins=[HTMXPlugin()],
        dependencies={"viewer": Provide(provide_viewer)},
        exception_handlers=EXCEPTION_HANDLERS,
        # `fabbooking serve` configures logging for the whole process (observability/logs.py);
        # unexpected errors are logged by EXCEPTION_HANDLERS, with the route, not the path
        logging_config=None,
        on_startup=([_open_pool] if use_pool else []) + ([_usage.start] if run_usage else [])
        + ([_demo_banner] if background_elsewhere else []) + ([long_lived.settle] if use_pool else []),
        on_shutdown=([_usage.stop] if run_usage else []) + ([_close_pool] if use_pool else []),
        openapi_config=OpenAPIConfig(
            title="Fabbooking API",
            version=__version__,
            description="Book the machines of a network of public fab spaces. "
            "Every error body is {code, detail}.",
            path="/schema",
            render_plugins=[SwaggerPage()],
        ),
    )
    document_input_errors_as_422(app)
    document_unavailable_as_503(app)
    tell_the_truth(app)
    app.asgi_handler = RequestObserver(with_page_cache(app))
    return app


def with_page_cache(app: Litestar):
    """The app's handler, behind the kept pages of its routes marked ``opt=CACHED``
    (unless FABBOOKING_PAGE_CACHE=off)."""
    if not page_cache_on() or app.csrf_config is None:
        return app.asgi_handler
    return PageCache(app.asgi_handler, app.csrf_config, route_pattern(kept_routes(app)))


def document_unavailable_as_503(app: Litestar) -> None:
    """Any API operation may meet a database that went away: 503 {code, detail} with
    Retry-After (see fabbooking.outage)."""
    unavailable = OpenAPIResponse(
        description=UNAVAILABLE,
        content={"application/json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/ErrorBody"))},
        headers={"Retry-After": OpenAPIHeader(
            description="Seconds to wait before trying again.", schema=Schema(type=OpenAPIType.INTEGER))},
    )
    for route, path in (app.openapi_schema.paths or {}).items():
        if not route.startswith("/api/"):
            continue
        for operation in (path.get, path.post, path.put, path.patch, path.delete):
            if operation is not None and operation.responses is not None:
                operation.responses.setdefault("503", unavailable)


def document_input_errors_as_422(app: Litestar) -> None:
    """Litestar documents its validation errors as 400 with its own body; ours answer 422
    with {code, detail} (see fabbooking.api.errors), so the schema says so — and that a
    body that is not JSON is a 415 (fabbooking.api.cross_site)."""
    schema = app.openapi_schema
    operations = [operation for path in (schema.paths or {}).values()
                  for operation in (path.get, path.post, path.put, path.patch, path.delete)
                  if operation is not None and operation.responses]
    error_ref = next(
        (r.content["application/json"].schema for operation in operations
         for r in (operation.responses or {}).values()
         if getattr(r, "content", None) and "application/json" in r.content
         and getattr(r.content["application/json"].schema, "ref", "").endswith("/ErrorBody")),
        None,
    )
    if error_ref is None:
        return
    for operation in operations:
        responses = operation.responses or {}
        if operation.request_body is not None and "415" not in responses:
            responses["415"] = OpenAPIResponse(
                description="The body is not JSON (code `json_only`).",
                content={"application/json": OpenAPIMediaType(schema=error_ref)})
        if "400" in responses:
            invalid = responses.pop("400")
            if "422" not in responses:
                invalid.description = "The input is not valid (code `invalid_input` or `naive_datetime`)."
                invalid.content["application/json"].schema = error_ref
                responses["422"] = invalid
