"""The pages of projects: the gallery, a project's page, writing and editing it, its
steps with photos and files, its people, its bookings and walk-in uses, its exports.
(The photos and files themselves are served by serving.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from anyio import to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

from fabbooking.errors import Refused
from fabbooking.messages import choose_language, render
from fabbooking.network import services as network
from fabbooking.network.tables import MachineKind
from fabbooking.projects import attachments, controllers, exports, gallery, media, services
from fabbooking.projects.markdown import STEP_TOP_HEADING, render_markdown
from fabbooking.projects.tables import Licence, ProjectStatus, Visibility
from fabbooking.projects.upload_gate import OnlyProjectPeopleUpload
from fabbooking.web.errors import error_page
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import LANGUAGE_COOKIE, _
from fabbooking.web.rendering import go, page, refusal_text

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def page_too_big(request: Request, exc: HTTPException) -> Response:
    """Over the request limit: refused while the CSRF check reads the form, before the
    page hooks ran, so the language is chosen here."""
    language = getattr(request.state, "language", None) or choose_language(
        request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE), None,
        request.headers.get("accept-language"))
    return error_page(request, 413, render("upload_too_big", language,
                                           megabytes=media.MAX_REQUEST_BYTES // media.MB))


def choices() -> dict[str, Any]:
    """The lists the forms and filters offer, in the order people expect."""
    return {
        "statuses": [s.value for s in ProjectStatus], "licences": exports.LICENCES,
        "visibilities": [v.value for v in Visibility], "kinds": [k.value for k in MachineKind],
        "default_licence": Licence.cc_by_sa.value,
    }


def _form_values(data: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {k: data.get(k, "") for k in ("title", "summary", "body", "status")}
    for key in ("licence", "visibility"):
        if key in data:
            values[key] = data[key]
    values["tags"] = data.get("tags", "")
    if "site" in data:
        # "" is « no site »; anything else must be a site's number (« ² » or a 5000-digit
        # number is one that names no site: refused as not found, never a crash).
        site = data["site"].strip()
        values["site_id"] = None if not site else _form_id(site) or 0
    return values


def _form_id(text: str) -> int | None:
    """An id typed in (or ticked in) a form: plain ASCII digits of a believable length;
    None otherwise (``str.isdigit`` also accepts « ² », which ``int`` refuses)."""
    text = str(text).strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _ticked(form: Any, name: str) -> set[int]:
    return {n for n in (_form_id(v) for v in form.getall(name)) if n is not None} if name in form else set()


async def _form_page(request: Request, *, project: dict | None = None, values: dict | None = None,
                     error: str = "", status: int = 200, is_owner: bool = True, tags: str = "") -> Template:
    template = "project_edit.html" if project else "project_new.html"
    return page(request, template, status=status, project=project, values=values or {}, error=error,
                is_owner=is_owner, tags_text=tags, sites=await network.list_sites(), **choices())


async def _step_page(request: Request, found: services.Access, *, values: dict | None = None,
                     error: str = "", status: int = 200, problems: list | None = None) -> Template:
    return page(request, "project_step.html", status=status, project=found.project, error=error,
                problems=problems or [],
                values=values or {"happened_on": datetime.now(UTC).date().isoformat()},
                limits=_limits())


def _limits() -> dict[str, int]:
    return {"image_mb": media.MAX_IMAGE_BYTES // media.MB, "file_mb": media.MAX_FILE_BYTES // media.MB,
            "request_mb": media.MAX_REQUEST_BYTES // media.MB, "per_step": media.MAX_FILES_PER_STEP,
            "per_project": media.MAX_FILES_PER_PROJECT}


class ProjectPages(Controller):
    include_in_schema = False

    @get("/projects")
    async def gallery(self, request: Request, q: FromQuery[str] = "", kind: FromQuery[str] = "",
                      site: FromQuery[str] = "", tag: FromQuery[str] = "", licence: FromQuery[str] = "",
                      status: FromQuery[str] = "", page_number: FromQuery[int] = 1) -> Template:
        viewer = request.state.viewer
        wanted = {"text": q, "kind": kind, "site": site, "tag": tag, "licence": licence, "status": status}
        page_number = max(1, page_number)
        rows, total = await gallery.gallery(viewer, page=page_number, **wanted)
        pages = max(1, -(-total // gallery.PER_PAGE))
        if page_number > pages:  # an old link, or a made-up number: the last page, as it says
            page_number = pages
            rows, total = await gallery.gallery(viewer, page=page_number, **wanted)
        filters = {"q": q, "kind": kind, "site": site, "tag": tag, "licence": licence, "status": status}
        return page(request, "project_gallery.html", "_project_results.html", projects=rows, total=total,
                    page_number=page_number, pages=pages, filters=filters,
                    sites=await network.list_sites(), **choices())

    @get("/me/projects")
    async def mine(self, request: Request, done: FromQuery[str] = "") -> Template:
        viewer = signed_in(request)
        return page(request, "project_mine.html", projects=await gallery.my_projects(viewer), done=done)

    @get("/projects/new")
    async def new_form(self, request: Request) -> Template:
        signed_in(request)
        return await _form_page(request, values={"licence": Licence.cc_by_sa.value, "visibility": "public",
                                                 "status": "idea"})

    @post("/projects/new")
    async def create(self, request: Request, data: Form) -> Response | Template:
        viewer = signed_in(request)
        values = _form_values(data)
        try:
            row = await services.create_project(viewer, values, datetime.now(UTC))
        except Refused as refused:
            return await _form_page(request, values=values, error=refusal_text(request, refused),
                                    status=refused.status, tags=values["tags"])
        return go(request, f"/projects/{row['slug']}?done=created")

    @get("/projects/{slug:str}")
    async def project(self, request: Request, slug: FromPath[str], done: FromQuery[str] = "") -> Template:
        details = await gallery.project_details(request.state.viewer, slug)
        return page(request, "project_page.html", done=done, body_html=render_markdown(details["project"]["body"]),
                    render_step_markdown=partial(render_markdown, top=STEP_TOP_HEADING),
                    licence=exports.licence_facts(details["project"]["licence"]),
                    **details)

    @get("/projects/{slug:str}/edit")
    async def edit_form(self, request: Request, slug: FromPath[str], done: FromQuery[str] = "") -> Template:
        found = await services.editable(signed_in(request), slug)
        tags = (await gallery.tags_of([found.id]))[found.id]
        return await _edit_page(request, found, values=found.project, tags=", ".join(tags), done=done)

    @post("/projects/{slug:str}/edit")
    async def edit(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        viewer = signed_in(request)
        found = await services.editable(viewer, slug)
        values = _form_values(data)
        try:
            await services.update_project(viewer, slug, values, datetime.now(UTC))
        except Refused as refused:
            if refused.code == "not_found":
                raise
            return await _edit_page(request, found, values={**found.project, **values}, tags=values["tags"],
                                    error=refusal_text(request, refused), status=refused.status)
        return go(request, f"/projects/{slug}?done=saved")

    @post("/projects/{slug:str}/cover", request_max_body_size=media.MAX_REQUEST_BYTES,
          exception_handlers={413: page_too_big}, middleware=[OnlyProjectPeopleUpload(on_page=True)])
    async def cover(self, request: Request, slug: FromPath[str]) -> Response | Template:
        viewer = signed_in(request)
        found = await services.editable(viewer, slug)
        form = await request.form()
        upload = form.get("cover")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise Refused("no_file")
            await services.add_media(viewer, slug, upload.filename, await upload.read(),
                                     alt=str(form.get("alt", "")), cover=True)
        except Refused as refused:
            if refused.code == "not_found":
                raise
            tags = (await gallery.tags_of([found.id]))[found.id]
            return await _edit_page(request, found, values=found.project, tags=", ".join(tags),
                                    cover_error=refusal_text(request, refused), status=refused.status)
        return go(request, f"/projects/{slug}/edit?done=cover")

    @get("/projects/{slug:str}/delete")
    async def delete_form(self, request: Request, slug: FromPath[str]) -> Template:
        found = await services.access(signed_in(request), slug)
        if not found.can_delete:
            raise Refused("project_owners_only", status=403)
        return page(request, "project_delete.html", project=found.project)

    @post("/projects/{slug:str}/delete")
    async def delete(self, request: Request, slug: FromPath[str]) -> Response:
        await services.delete_project(signed_in(request), slug)
        return go(request, "/me/projects?done=deleted")

    @get("/projects/{slug:str}/steps/new")
    async def step_form(self, request: Request, slug: FromPath[str]) -> Template:
        return await _step_page(request, await services.editable(signed_in(request), slug))

    @post("/projects/{slug:str}/steps/new", request_max_body_size=media.MAX_REQUEST_BYTES,
          exception_handlers={413: page_too_big}, middleware=[OnlyProjectPeopleUpload(on_page=True)])
    async def add_step(self, request: Request, slug: FromPath[str]) -> Response | Template:
        """A dated step with its photos and files (multipart). Every file is checked first:
        if one is refused, nothing is saved and the form says which file and why."""
        viewer = signed_in(request)
        found = await services.editable(viewer, slug)
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in ("happened_on", "title", "body", "alt")}
        uploads = [f for f in form.getall("files") if isinstance(f, UploadFile) and f.filename] \
            if "files" in form else []
        try:
            happened_on = _step_date(values["happened_on"])
            if len(uploads) > media.MAX_FILES_PER_STEP:
                raise Refused("too_many_files_in_step", limit=media.MAX_FILES_PER_STEP)
            await services.check_room(found.id, None, len(uploads))
        except Refused as refused:
            return await _step_page(request, found, values=values, error=refusal_text(request, refused),
                                    status=refused.status)
        accepted, problems = [], []
        for upload in uploads:
            data = await upload.read()
            try:
                accepted.append((upload.filename, data, await to_thread.run_sync(media.prepare, data)))
            except Refused as refused:
                problems.append({"name": upload.filename, "text": refusal_text(request, refused)})
        if problems:
            return await _step_page(request, found, values=values, problems=problems, status=422,
                                    error=_("Rien n'est enregistré : ces fichiers ne sont pas acceptés. "
                                            "Retirez-les ou remplacez-les, puis envoyez de nouveau."))
        try:
            await services.check_space(found.id, sum(len(data) for _name, data, _p in accepted))
        except Refused as refused:
            return await _step_page(request, found, values=values, error=refusal_text(request, refused),
                                    status=refused.status)
        step = await services.add_step(viewer, slug, happened_on, values["title"], values["body"])
        try:
            for name, data, prepared in accepted:
                await services.add_media(viewer, slug, name, data, step_id=step["id"], alt=values["alt"],
                                         prepared=prepared)
        except Exception as failure:
            # All or nothing: a file refused on the way (the project filled up meanwhile,
            # the media folder failed) takes the step and the files already kept with it.
            await services.delete_step(viewer, slug, step["id"])
            if not isinstance(failure, Refused):
                raise
            return await _step_page(request, found, values=values, error=refusal_text(request, failure),
                                    status=failure.status)
        return go(request, f"/projects/{slug}?done=step#step-{step['id']}")

    @post("/projects/{slug:str}/steps/{step_id:int}/delete")
    async def delete_step(self, request: Request, slug: FromPath[str], step_id: FromPath[int]) -> Response:
        await services.delete_step(signed_in(request), slug, step_id)
        return go(request, f"/projects/{slug}?done=step_deleted")

    @post("/projects/{slug:str}/media/{media_id:int}/delete")
    async def delete_media(self, request: Request, slug: FromPath[str], media_id: FromPath[int]) -> Response:
        await services.delete_media(signed_in(request), slug, media_id)
        return go(request, f"/projects/{slug}?done=file_deleted")

    @get("/projects/{slug:str}/members")
    async def members(self, request: Request, slug: FromPath[str]) -> Template:
        found = await services.owned(signed_in(request), slug)
        return await _members_page(request, found)

    @post("/projects/{slug:str}/members")
    async def add_member(self, request: Request, slug: FromPath[str], data: Form) -> Response | Template:
        viewer = signed_in(request)
        found = await services.owned(viewer, slug)
        try:
            await services.add_member(viewer, slug, data.get("username", ""), data.get("role", "collaborator"))
        except Refused as refused:
            return await _members_page(request, found, error=refusal_text(request, refused),
                                       status=refused.status, username=data.get("username", ""))
        return go(request, f"/projects/{slug}/members?done=added")

    @post("/projects/{slug:str}/members/{account_id:int}/remove")
    async def remove_member(self, request: Request, slug: FromPath[str], account_id: FromPath[int]) -> Response | Template:
        viewer = signed_in(request)
        found = await services.owned(viewer, slug)
        try:
            await services.remove_member(viewer, slug, account_id)
        except Refused as refused:
            return await _members_page(request, found, error=refusal_text(request, refused), status=refused.status)
        if account_id == viewer.account_id:  # an owner who left no longer manages the project
            return go(request, f"/projects/{slug}")
        return go(request, f"/projects/{slug}/members?done=removed")

    @get("/projects/{slug:str}/bookings")
    async def bookings(self, request: Request, slug: FromPath[str]) -> Template:
        viewer = signed_in(request)
        found = await services.editable(viewer, slug)
        return await _bookings_page(request, found)

    @post("/projects/{slug:str}/bookings")
    async def set_bookings(self, request: Request, slug: FromPath[str]) -> Response | Template:
        """The ticked bookings count for the project; unticked ones of mine stop counting."""
        viewer = signed_in(request)
        found = await services.editable(viewer, slug)
        form = await request.form()
        ticked = _ticked(form, "booking")
        try:
            for row in await attachments.attachable_bookings(viewer, slug, _bookings_since()):
                if row["id"] in ticked and not row["here"]:
                    await attachments.attach_booking(viewer, slug, row["id"])
                elif row["id"] not in ticked and row["here"]:
                    await attachments.detach_booking(viewer, slug, row["id"])
        except Refused as refused:
            return await _bookings_page(request, found, error=refusal_text(request, refused), status=refused.status)
        return go(request, f"/projects/{slug}?done=bookings#machine-time")

    @get("/projects/{slug:str}/usage")
    async def usage(self, request: Request, slug: FromPath[str]) -> Template:
        """For the staff: uses without a booking (walk-ins) to count for the project."""
        viewer = signed_in(request)
        return await _usage_page(request, await services.access(viewer, slug))

    @post("/projects/{slug:str}/usage")
    async def set_usage(self, request: Request, slug: FromPath[str]) -> Response | Template:
        viewer = signed_in(request)
        found = await services.access(viewer, slug)
        form = await request.form()
        ticked = _ticked(form, "session")
        try:
            for row in await attachments.walk_ins_to_attach(viewer, slug, _walk_in_since()):
                if row["id"] in ticked and not row["here"]:
                    await attachments.attach_usage(viewer, slug, row["id"])
                elif row["id"] not in ticked and row["here"]:
                    await attachments.detach_usage(viewer, slug, row["id"])
        except Refused as refused:
            if refused.code in ("not_found", "not_staff_of_site"):
                raise
            return await _usage_page(request, found, error=refusal_text(request, refused), status=refused.status)
        return go(request, f"/projects/{slug}?done=usage#machine-time")

    @get("/projects/{slug:str}/export.json")
    async def export_json(self, request: Request, slug: FromPath[str]) -> Response:
        details = await gallery.project_details(request.state.viewer, slug)
        return controllers.export_json(details)

    @get("/projects/{slug:str}/export.wiki")
    async def export_wiki(self, request: Request, slug: FromPath[str]) -> Response:
        details = await gallery.project_details(request.state.viewer, slug)
        return controllers.export_wiki(details)


def _step_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refused("bad_step_date") from None


async def _edit_page(request: Request, found: services.Access, *, values: dict, tags: str, error: str = "",
                     cover_error: str = "", status: int = 200, done: str = "") -> Template:
    cover = (await gallery.covers_of([found.id])).get(found.id)
    return page(request, "project_edit.html", status=status, project=found.project, values=values, error=error,
                cover_error=cover_error, is_owner=found.is_owner, tags_text=tags, done=done,
                cover=cover, limits=_limits(), sites=await network.list_sites(), **choices())


async def _members_page(request: Request, found: services.Access, *, error: str = "", status: int = 200,
                        username: str = "") -> Template:
    return page(request, "project_members.html", status=status, project=found.project, error=error,
                members=await services.members_of(found.id), username=username,
                done=request.query_params.get("done", ""))


WALK_IN_DAYS = 60
BOOKING_DAYS = 30


def _bookings_since() -> datetime:
    return datetime.now(UTC) - timedelta(days=BOOKING_DAYS)


def _walk_in_since() -> datetime:
    return datetime.now(UTC) - timedelta(days=WALK_IN_DAYS)


async def _usage_page(request: Request, found: services.Access, *, error: str = "",
                      status: int = 200) -> Template:
    rows = await attachments.walk_ins_to_attach(request.state.viewer, found.project["slug"], _walk_in_since())
    return page(request, "project_usage.html", status=status, project=found.project, error=error,
                sessions=rows, days=WALK_IN_DAYS)


async def _bookings_page(request: Request, found: services.Access, *, error: str = "",
                         status: int = 200) -> Template:
    rows = await attachments.attachable_bookings(request.state.viewer, found.project["slug"], _bookings_since())
    return page(request, "project_bookings.html", status=status, project=found.project, error=error,
                bookings=rows, days=BOOKING_DAYS)
