"""The API's documentation page at /schema: Swagger UI from fabbooking/static/swagger-ui
(swagger-ui-dist, vendored with its licence), started by a script file of ours — no CDN,
no inline script or style, so the app's Content-Security-Policy holds there too."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

ASSETS = "/static/swagger-ui"


class SwaggerPage(OpenAPIRenderPlugin):
    """Served at /schema (the first render plugin is the default) and /schema/swagger."""

    def __init__(self) -> None:
        super().__init__(path="/swagger", favicon="", style="")

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        schema_url = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" data-url="{schema_url}">
<noscript><p>This page needs JavaScript. The API's description is at
<a href="{schema_url}">{schema_url}</a>.</p></noscript>
</main>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/start.js"></script>
</body>
</html>
""".encode()
