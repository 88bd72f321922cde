"""Reading projects: one project with everything its page shows, the gallery (search,
filters, pages) and a maker's own projects; always only what the viewer may see."""

from __future__ import annotations

from typing import Any

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused
from fabbooking.network.tables import Site
from fabbooking.projects.attachments import project_figures
from fabbooking.projects.markdown import clean_text
from fabbooking.projects.services import access, members_of, normalise_tags
from fabbooking.projects.tables import (
    MediaFile,
    MediaKind,
    Project,
    ProjectBooking,
    ProjectMember,
    ProjectStep,
    ProjectTag,
    ProjectUsage,
    Visibility,
)

PER_PAGE = 24


async def tags_of(project_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {i: [] for i in project_ids}
    if project_ids:
        for row in await ProjectTag.select(ProjectTag.project, ProjectTag.tag).where(
                ProjectTag.project.is_in(project_ids)).order_by(ProjectTag.id):
            tags[row["project"]].append(row["tag"])
    return tags


async def covers_of(project_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each project's cover: the photo chosen as cover, or else its first photo."""
    covers: dict[int, dict[str, Any]] = {}
    if project_ids:
        rows = await MediaFile.select(MediaFile.id, MediaFile.project, MediaFile.alt, MediaFile.is_cover,
                                      MediaFile.width, MediaFile.height).where(
            MediaFile.project.is_in(project_ids) & (MediaFile.kind == MediaKind.image.value)
        ).order_by(MediaFile.id)
        for row in rows:
            if row["project"] not in covers or (row["is_cover"] and not covers[row["project"]]["is_cover"]):
                covers[row["project"]] = row
    return covers


async def project_details(viewer: Viewer, slug: str) -> dict[str, Any]:
    """Everything the project page shows."""
    found = await access(viewer, slug)
    steps = await ProjectStep.select(
        ProjectStep.all_columns(), ProjectStep.author.display_name.as_alias("author_name"),
        ProjectStep.author.username.as_alias("author_username"),
    ).where(ProjectStep.project == found.id).order_by(ProjectStep.happened_on, ProjectStep.id)
    files = await MediaFile.select().where(MediaFile.project == found.id).order_by(MediaFile.id)
    by_step: dict[int | None, list[dict[str, Any]]] = {}
    for row in files:
        by_step.setdefault(row["step"], []).append(row)
    for step in steps:
        step["media"] = by_step.get(step["id"], [])
    covers = await covers_of([found.id])
    site = None
    if found.project["site"]:
        site = await Site.select(Site.name, Site.slug).where(Site.id == found.project["site"]).first()
    return {
        "project": found.project, "role": found.role, "can_edit": found.can_edit,
        "is_owner": found.is_owner, "can_delete": found.can_delete,
        "members": await members_of(found.id), "tags": (await tags_of([found.id]))[found.id],
        "steps": steps, "files": files, "project_media": by_step.get(None, []),
        "cover": covers.get(found.id), "figures": await project_figures(found.id), "site": site,
    }


def _contains(column, pattern: str):
    """Any case: ILIKE on PostgreSQL; SQLite's LIKE already ignores the case of ASCII letters."""
    return column.ilike(pattern) if database.is_postgres() else column.like(pattern)


def _visible_to(viewer: Viewer):
    where = Project.visibility == Visibility.public.value
    if viewer.is_authenticated:
        mine = ProjectMember.select(ProjectMember.project).where(ProjectMember.account == viewer.account_id)
        where = (Project.visibility.is_in([Visibility.public.value, Visibility.members.value])
                 | Project.id.is_in(mine))
    return where


async def gallery(viewer: Viewer, *, text: str = "", kind: str = "", site: str = "", tag: str = "",
                  licence: str = "", status: str = "", page: int = 1,
                  per_page: int = PER_PAGE) -> tuple[list[dict[str, Any]], int]:
    """The projects the viewer may see that match, newest change first, one page of them;
    and how many match in all. ``text`` is looked for in titles, summaries and tags,
    whatever the case."""
    where = _visible_to(viewer)
    # Filters come straight from the query string: cleaned like any text (a NUL byte would
    # make PostgreSQL fail the whole query).
    text, kind, site, tag, licence, status = (clean_text(v, 100) for v in (text, kind, site, tag, licence, status))
    if text:
        pattern = f"%{text}%"
        tagged = ProjectTag.select(ProjectTag.project).where(_contains(ProjectTag.tag, pattern))
        where &= (_contains(Project.title, pattern) | _contains(Project.summary, pattern)
                  | Project.id.is_in(tagged))
    if tag:
        where &= Project.id.is_in(ProjectTag.select(ProjectTag.project).where(
            ProjectTag.tag == (normalise_tags([tag]) or [""])[0]))
    if licence:
        where &= Project.licence == licence
    if status:
        where &= Project.status == status
    if kind:
        where &= (Project.id.is_in(ProjectBooking.select(ProjectBooking.project).where(
                      ProjectBooking.booking.machine.kind == kind))
                  | Project.id.is_in(ProjectUsage.select(ProjectUsage.project).where(
                      ProjectUsage.usage_session.machine.kind == kind)))
    if site:
        where &= ((Project.site.slug == site)
                  | Project.id.is_in(ProjectBooking.select(ProjectBooking.project).where(
                      ProjectBooking.booking.machine.site.slug == site))
                  | Project.id.is_in(ProjectUsage.select(ProjectUsage.project).where(
                      ProjectUsage.usage_session.machine.site.slug == site)))
    total = await Project.count().where(where)
    page = max(1, page)
    if (page - 1) * per_page >= total:
        # Past the last page (or a page number too big for the database's OFFSET): nothing.
        return [], total
    rows = await Project.select(
        Project.id, Project.slug, Project.title, Project.summary, Project.status, Project.licence,
        Project.visibility, Project.updated_at,
    ).where(where).order_by(Project.updated_at, ascending=False).order_by(Project.id, ascending=False) \
        .limit(per_page).offset((page - 1) * per_page)
    await _decorate(rows)
    return rows, total


async def my_projects(viewer: Viewer) -> list[dict[str, Any]]:
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    rows = await ProjectMember.select(
        ProjectMember.role, ProjectMember.project.id.as_alias("id"), ProjectMember.project.slug.as_alias("slug"),
        ProjectMember.project.title.as_alias("title"), ProjectMember.project.summary.as_alias("summary"),
        ProjectMember.project.status.as_alias("status"), ProjectMember.project.licence.as_alias("licence"),
        ProjectMember.project.visibility.as_alias("visibility"),
        ProjectMember.project.updated_at.as_alias("updated_at"),
    ).where(ProjectMember.account == viewer.account_id).order_by(ProjectMember.project.updated_at, ascending=False)
    await _decorate(rows)
    return rows


async def _decorate(rows: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in rows]
    tags, covers = await tags_of(ids), await covers_of(ids)
    for row in rows:
        row["tags"] = tags.get(row["id"], [])
        row["cover"] = covers.get(row["id"])
