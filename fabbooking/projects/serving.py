"""The photos and files of projects, served to whoever may see their project, with
headers that keep a file from ever running as part of a page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import File

from fabbooking.accounts.viewer import Viewer
from fabbooking.api.auth import provide_viewer
from fabbooking.errors import Refused
from fabbooking.projects import media, services
from fabbooking.projects.tables import Visibility

MEDIA_CSP = "default-src 'none'; sandbox"


class MediaPages(Controller):
    include_in_schema = False

    @get("/projects/media/{media_id:int}")
    async def media_file(self, request: Request, media_id: FromPath[int]) -> File:
        return _serve(await services.media_for(await _media_viewer(request), media_id), thumbnail=False)

    @get("/projects/media/{media_id:int}/thumb")
    async def media_thumbnail(self, request: Request, media_id: FromPath[int]) -> File:
        row = await services.media_for(await _media_viewer(request), media_id)
        if not row["thumbnail"]:
            raise Refused.not_found("cette miniature", "this thumbnail")
        return _serve(row, thumbnail=True)


async def _media_viewer(request: Request) -> Viewer:
    """The browser's session, or a script's Bearer token (the page keeps its language)."""
    if not request.headers.get("authorization"):
        return request.state.viewer
    language = request.state.language
    viewer = await provide_viewer(request)
    request.state.language = language
    return viewer


def _serve(row: dict[str, Any], *, thumbnail: bool) -> File:
    """Only re-encoded photos show in the page; everything else (SVG included: it can carry
    script) is a download. The sandbox CSP keeps even a misread file from running."""
    path = media.path_of(row["thumbnail"] if thumbnail else row["stored"])
    if not path.is_file():
        raise Refused.not_found("ce fichier", "this file")
    inline = row["kind"] == "image"
    public = row["visibility"] == Visibility.public.value
    name = row["name"] if not thumbnail else row["name"].rsplit(".", 1)[0] + "-miniature.webp"
    return File(
        path=path, filename=name, media_type="image/webp" if thumbnail else row["content_type"],
        content_disposition_type="inline" if inline else "attachment",
        headers={
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": MEDIA_CSP,
            "Cache-Control": "public, max-age=86400" if public else "private, max-age=3600",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )
