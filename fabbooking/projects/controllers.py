"""/api/v1/projects: projects as JSON, uploads as multipart, exports as downloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, FromQuery, JSONBody, QueryParameter

from fabbooking.api.auth import CurrentViewer, require_login
from fabbooking.api.cross_site import MULTIPART_OPT
from fabbooking.api.errors import ErrorBody, error_responses, request_language
from fabbooking.api.idempotency import IdempotencyKey, answer_once
from fabbooking.messages import render
from fabbooking.projects import attachments, exports, gallery, media, services
from fabbooking.projects.markdown import STEP_TOP_HEADING, render_markdown
from fabbooking.projects.schemas import (
    AttachBookingIn,
    AttachUsageIn,
    FiguresOut,
    MediaOut,
    MemberIn,
    MemberOut,
    ProjectIn,
    ProjectListOut,
    ProjectOut,
    ProjectPatch,
    ProjectSummaryOut,
    SiteRef,
    StepIn,
    StepOut,
)
from fabbooking.projects.upload_gate import OnlyProjectPeopleUpload
from fabbooking.settings import public_url


def too_big_handler(request: Request, exc: HTTPException) -> Response[ErrorBody]:
    """An upload over the request limit: a clear 413, not Litestar's bare one."""
    code = "upload_too_big"
    detail = render(code, request_language(request), megabytes=media.MAX_REQUEST_BYTES // media.MB)
    return Response(ErrorBody(code=code, detail=detail), status_code=413)


UPLOAD_ERRORS = {
    **error_responses(401, 403, 404, 409, 422),
    413: ResponseSpec(data_container=ErrorBody, generate_examples=False, description=(
        "Too big: one file over its limit (`file_too_big`: 10 MB a photo, 50 MB a model or "
        "drawing) or the request over 64 MB (`upload_too_big`).")),
}


def media_out(row: dict[str, Any]) -> MediaOut:
    return MediaOut(
        id=row["id"], name=row["name"], kind=row["kind"], content_type=row["content_type"],
        size=row["size"], alt=row["alt"], is_cover=row["is_cover"], step_id=row["step"],
        url=exports.media_url("", row), thumbnail_url=exports.media_url("", row, True) if row["thumbnail"] else None,
        width=row["width"], height=row["height"],
    )


def step_out(row: dict[str, Any]) -> StepOut:
    return StepOut(id=row["id"], happened_on=row["happened_on"], title=row["title"], body=row["body"],
                   body_html=render_markdown(row["body"], STEP_TOP_HEADING), media=[media_out(m) for m in row.get("media", [])])


def member_out(row: dict[str, Any], with_account: bool) -> MemberOut:
    """The credit (the name people chose to show) for everyone; the account behind it, which
    a login name is, only for the project's own members, who manage them."""
    return MemberOut(credit=row["credit"], role=row["role"],
                     account_id=row["account"] if with_account else None,
                     username=row["username"] if with_account else None)


def project_out(details: dict[str, Any]) -> ProjectOut:
    project, figures = details["project"], details["figures"]
    cover = next((m for m in details["files"] if details["cover"] and m["id"] == details["cover"]["id"]), None)
    return ProjectOut(
        slug=project["slug"], title=project["title"], summary=project["summary"], body=project["body"],
        body_html=render_markdown(project["body"]), status=project["status"], licence=project["licence"],
        visibility=project["visibility"], tags=details["tags"],
        site=details["site"]["slug"] if details["site"] else None, created_at=project["created_at"],
        updated_at=project["updated_at"], done_at=project["done_at"], your_role=details["role"],
        members=[member_out(m, with_account=details["role"] is not None) for m in details["members"]],
        steps=[step_out(s) for s in details["steps"]],
        files=[media_out(m) for m in details["project_media"]],
        cover=media_out(cover) if cover else None,
        figures=FiguresOut(**{**figures, "sites": [SiteRef(**s) for s in figures["sites"]]}),
    )


def summary_out(row: dict[str, Any]) -> ProjectSummaryOut:
    cover = row.get("cover")
    return ProjectSummaryOut(
        slug=row["slug"], title=row["title"], summary=row["summary"], status=row["status"],
        licence=row["licence"], visibility=row["visibility"], tags=row["tags"], updated_at=row["updated_at"],
        cover_thumbnail_url=f"/projects/media/{cover['id']}/thumb" if cover else None,
    )


@dataclass
class UploadForm:
    file: UploadFile
    alt: str = ""
    step_id: int | None = None
    cover: bool = False


def download(content: bytes, filename: str, media_type: str) -> Response[bytes]:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
    })


def export_json(details: dict[str, Any]) -> Response[bytes]:
    body = json.dumps(exports.as_json(details, public_url()), ensure_ascii=False, indent=2).encode()
    return download(body, f"{details['project']['slug']}.json", "application/json")


def export_wiki(details: dict[str, Any]) -> Response[bytes]:
    body = exports.as_wikitext(details, public_url()).encode()
    return download(body, f"{details['project']['slug']}.wiki.txt", "text/plain")


class ProjectController(Controller):
    path = "/projects"
    tags = ["projects"]

    @get("/", responses=error_responses(422))
    async def list_projects(
        self, viewer: CurrentViewer,
        q: Annotated[str, QueryParameter(description="Words in the title, summary or tags (any case)")] = "",
        kind: Annotated[str, QueryParameter(description="Machine kind used, e.g. 3d_printer")] = "",
        site: Annotated[str, QueryParameter(description="Site slug")] = "",
        tag: FromQuery[str] = "", licence: FromQuery[str] = "", status: FromQuery[str] = "",
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 24,
    ) -> ProjectListOut:
        """The projects the caller may see (public; members-only when signed in; their own)."""
        rows, total = await gallery.gallery(viewer, text=q, kind=kind, site=site, tag=tag, licence=licence,
                                             status=status, page=page, per_page=per_page)
        return ProjectListOut(total=total, page=page, per_page=per_page, items=[summary_out(r) for r in rows])

    @post("/", status_code=201, responses=error_responses(401, 409, 422))
    async def create(self, request: Request, data: JSONBody[ProjectIn], viewer: CurrentViewer,
                     idempotency_key: IdempotencyKey = None) -> Response[ProjectOut]:
        """Start a project; the caller becomes its owner. Send an `Idempotency-Key` to retry
        safely."""
        async def create() -> ProjectOut:
            row = await services.create_project(require_login(viewer), {
                "title": data.title, "summary": data.summary, "body": data.body, "status": data.status,
                "licence": data.licence, "visibility": data.visibility, "tags": data.tags,
                "site_id": data.site_id,
            }, datetime.now(UTC))
            return project_out(await gallery.project_details(viewer, row["slug"]))

        return await answer_once(request, viewer, idempotency_key, data, create, 201)

    @get("/{slug:str}", responses=error_responses(404))
    async def get_project(self, slug: FromPath[str], viewer: CurrentViewer) -> ProjectOut:
        return project_out(await gallery.project_details(viewer, slug))

    @patch("/{slug:str}", responses=error_responses(401, 403, 404, 422))
    async def update(self, slug: FromPath[str], data: JSONBody[ProjectPatch], viewer: CurrentViewer) -> ProjectOut:
        """Owners and collaborators edit; licence and visibility are the owners' choice."""
        values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
        await services.update_project(require_login(viewer), slug, values, datetime.now(UTC))
        return project_out(await gallery.project_details(viewer, slug))

    @delete("/{slug:str}", status_code=204, responses=error_responses(401, 403, 404))
    async def delete_project(self, slug: FromPath[str], viewer: CurrentViewer) -> None:
        """Owners (and admins) delete the project with its steps and files."""
        await services.delete_project(require_login(viewer), slug)

    @post("/{slug:str}/steps", status_code=201, responses=error_responses(401, 403, 404, 422))
    async def add_step(self, slug: FromPath[str], data: JSONBody[StepIn], viewer: CurrentViewer) -> StepOut:
        row = await services.add_step(require_login(viewer), slug, data.happened_on, data.title, data.body)
        return step_out(row)

    @delete("/{slug:str}/steps/{step_id:int}", status_code=204, responses=error_responses(401, 403, 404))
    async def delete_step(self, slug: FromPath[str], step_id: FromPath[int], viewer: CurrentViewer) -> None:
        await services.delete_step(require_login(viewer), slug, step_id)

    @post("/{slug:str}/media", status_code=201, request_max_body_size=media.MAX_REQUEST_BYTES,
          opt={MULTIPART_OPT: True}, exception_handlers={413: too_big_handler}, responses=UPLOAD_ERRORS,
          middleware=[OnlyProjectPeopleUpload()])
    async def upload(self, slug: FromPath[str], viewer: CurrentViewer,
                     data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> MediaOut:
        """One photo or file (multipart field `file`), for the project or one of its steps
        (`step_id`), optionally as its cover. Checked by content: JPEG, PNG, WebP, GIF
        (re-encoded, metadata dropped), STL, 3MF, SVG, DXF. Limits: 10 MB a photo, 50 MB a
        file, 64 MB a request, 20 files a step, 200 a project."""
        content = await data.file.read()
        row = await services.add_media(require_login(viewer), slug, data.file.filename or "", content,
                                       step_id=data.step_id, alt=data.alt, cover=data.cover)
        return media_out(row)

    @delete("/{slug:str}/media/{media_id:int}", status_code=204, responses=error_responses(401, 403, 404))
    async def delete_media(self, slug: FromPath[str], media_id: FromPath[int], viewer: CurrentViewer) -> None:
        await services.delete_media(require_login(viewer), slug, media_id)

    @post("/{slug:str}/members", status_code=200, responses=error_responses(401, 403, 404, 422))
    async def add_member(self, slug: FromPath[str], data: JSONBody[MemberIn], viewer: CurrentViewer) -> list[MemberOut]:
        """Owners add an owner or a collaborator by username."""
        rows = await services.add_member(require_login(viewer), slug, data.username, data.role)
        return [member_out(m, with_account=True)
                for m in rows]

    @delete("/{slug:str}/members/{account_id:int}", status_code=204, responses=error_responses(401, 403, 404, 409))
    async def remove_member(self, slug: FromPath[str], account_id: FromPath[int], viewer: CurrentViewer) -> None:
        await services.remove_member(require_login(viewer), slug, account_id)

    @post("/{slug:str}/bookings", status_code=200, responses=error_responses(401, 403, 404, 409, 422))
    async def attach_booking(self, slug: FromPath[str], data: JSONBody[AttachBookingIn],
                             viewer: CurrentViewer) -> FiguresOut:
        """Count a booking for the project: the maker's own, or (animators of its site) a
        project member's."""
        await attachments.attach_booking(require_login(viewer), slug, data.booking_id)
        return await self._figures(viewer, slug)

    @delete("/{slug:str}/bookings/{booking_id:int}", status_code=204, responses=error_responses(401, 403, 404))
    async def detach_booking(self, slug: FromPath[str], booking_id: FromPath[int], viewer: CurrentViewer) -> None:
        await attachments.detach_booking(require_login(viewer), slug, booking_id)

    @post("/{slug:str}/usage", status_code=200, responses=error_responses(401, 403, 404, 409))
    async def attach_usage(self, slug: FromPath[str], data: JSONBody[AttachUsageIn],
                           viewer: CurrentViewer) -> FiguresOut:
        """Staff of the machine's site count a usage session (a walk-in use) for the project."""
        await attachments.attach_usage(require_login(viewer), slug, data.session_id)
        return await self._figures(viewer, slug)

    @delete("/{slug:str}/usage/{session_id:int}", status_code=204, responses=error_responses(401, 403, 404))
    async def detach_usage(self, slug: FromPath[str], session_id: FromPath[int], viewer: CurrentViewer) -> None:
        await attachments.detach_usage(require_login(viewer), slug, session_id)

    @get("/{slug:str}/export.json", responses=error_responses(404),
         response_description="The project as a JSON file (attachment).")
    async def export_json(self, slug: FromPath[str], viewer: CurrentViewer) -> Response[dict[str, Any]]:
        """Title, text, steps, media URLs, licence, credits and machine time."""
        # its body is that JSON object, already encoded: the schema says « object », not « string »
        return export_json(await gallery.project_details(viewer, slug))  # type: ignore[return-value]

    @get("/{slug:str}/export.wiki", responses=error_responses(404), media_type="text/plain",
         response_description="MediaWiki wikitext (text/plain attachment).")
    async def export_wiki(self, slug: FromPath[str], viewer: CurrentViewer) -> Response[bytes]:
        """MediaWiki wikitext for a local wiki such as Wiki-Brest, with licence and credits."""
        return export_wiki(await gallery.project_details(viewer, slug))

    async def _figures(self, viewer, slug: str) -> FiguresOut:
        found = await services.access(viewer, slug)
        figures = await attachments.project_figures(found.id)
        return FiguresOut(**{**figures, "sites": [SiteRef(**s) for s in figures["sites"]]})
