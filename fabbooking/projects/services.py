"""Projects: who sees and changes what, creating and editing, members, tags, steps,
photos and files (reading and the gallery: gallery.py).

Who may do what:
- see: a public project, anyone; a members project, anyone signed in; a private one, its
  owners and collaborators, and the network's admins (moderation). Others get « not
  found », as if it did not exist.
- edit (text, status, tags, steps, photos and files): owners and collaborators;
- licence, visibility, members and deleting: owners only (admins may delete too).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from anyio import to_thread

from fabbooking import database
from fabbooking.accounts.services import normalise_username
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.ids import is_id
from fabbooking.network.tables import Site
from fabbooking.projects import media
from fabbooking.projects.markdown import clean_body, clean_file_name, clean_text
from fabbooking.projects.tables import (
    Licence,
    MediaFile,
    MediaKind,
    MemberRole,
    Project,
    ProjectMember,
    ProjectStatus,
    ProjectStep,
    ProjectTag,
    Visibility,
)

MAX_TAGS = 10
MAX_TAG_LENGTH = 40
MAX_TITLE = 200
MAX_SUMMARY = 1000
MAX_BODY = 50_000
MAX_ALT = 300
RESERVED_SLUGS = {"new", "media", "nouveau"}


SLUG_PATTERN = re.compile(r"[a-z0-9-]{1,100}")


def project_not_found(slug: str) -> Refused:
    slug = clean_text(slug, 100)
    return Refused.not_found(f"le projet « {slug} »", f"project “{slug}”")


@dataclass(frozen=True)
class Access:
    """A project as a viewer may see it, and what the viewer is to it."""

    project: dict[str, Any]
    role: str | None  # "owner" | "collaborator" | None
    viewer: Viewer

    @property
    def id(self) -> int:
        return self.project["id"]

    @property
    def can_edit(self) -> bool:
        return self.role is not None

    @property
    def is_owner(self) -> bool:
        return self.role == MemberRole.owner.value

    @property
    def can_delete(self) -> bool:
        return self.is_owner or self.viewer.is_admin


def may_see(visibility: str, role: str | None, viewer: Viewer) -> bool:
    if visibility == Visibility.public.value:
        return True
    if visibility == Visibility.members.value:
        return viewer.is_authenticated
    return role is not None or viewer.is_admin


async def access(viewer: Viewer, slug: str) -> Access:
    """The project ``slug`` if the viewer may see it; « not found » otherwise. A slug no
    project can have (a NUL byte, which PostgreSQL refuses outright, or any other character
    slugify never writes) is not looked for."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise project_not_found(slug)
    project = await Project.select().where(Project.slug == slug).first()
    if project is None:
        raise project_not_found(slug)
    role = None
    if viewer.is_authenticated:
        member = await ProjectMember.select(ProjectMember.role).where(
            (ProjectMember.project == project["id"]) & (ProjectMember.account == viewer.account_id)
        ).first()
        role = member["role"] if member else None
    if not may_see(project["visibility"], role, viewer):
        raise project_not_found(slug)
    return Access(project, role, viewer)


async def editable(viewer: Viewer, slug: str) -> Access:
    found = await access(viewer, slug)
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    if not found.can_edit:
        raise Refused("project_members_only", status=403)
    return found


async def owned(viewer: Viewer, slug: str) -> Access:
    found = await editable(viewer, slug)
    if not found.is_owner:
        raise Refused("project_owners_only", status=403)
    return found


# --- checking what people type ---------------------------------------------------------

def slugify(title: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")
    return slug or "projet"


def normalise_tags(tags: list[str] | str) -> list[str]:
    """Lower case, spaces become dashes, no duplicates, at most 10 of 40 characters."""
    if isinstance(tags, str):
        tags = tags.split(",")
    seen: list[str] = []
    for raw in tags:
        tag = re.sub(r"[\s_]+", "-", clean_text(str(raw), 200).lower()).strip("-#")[:MAX_TAG_LENGTH]
        if tag and tag not in seen:
            seen.append(tag)
    if len(seen) > MAX_TAGS:
        raise Refused("too_many_tags", limit=MAX_TAGS)
    return seen


def _choice(field: str, value: str, allowed: type) -> str:
    if value not in {item.value for item in allowed}:
        raise Refused("project_bad_choice", field=field)
    return value


def checked_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Only known fields, cleaned; raise Refused on a wrong choice or a missing title."""
    fields: dict[str, Any] = {}
    if "title" in values:
        fields["title"] = clean_text(values["title"], MAX_TITLE)
        if not fields["title"]:
            raise Refused("project_title_missing")
    if "summary" in values:
        fields["summary"] = clean_text(values["summary"], MAX_SUMMARY)
    if "body" in values:
        fields["body"] = clean_body(values["body"], MAX_BODY)
    if "status" in values:
        fields["status"] = _choice("status", values["status"], ProjectStatus)
    if "licence" in values:
        fields["licence"] = _choice("licence", values["licence"], Licence)
    if "visibility" in values:
        fields["visibility"] = _choice("visibility", values["visibility"], Visibility)
    return fields


async def _checked_site(site_id: int | None) -> int | None:
    if site_id is not None and (not is_id(site_id) or not await Site.exists().where(Site.id == site_id)):
        raise Refused.not_found(f"le lieu n° {site_id}", f"site #{site_id}")
    return site_id


# --- creating, editing, deleting -------------------------------------------------------

async def create_project(viewer: Viewer, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new project; its creator is its first owner."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    fields = checked_fields({"title": "", **values})
    tags = normalise_tags(values.get("tags") or [])
    site_id = await _checked_site(values.get("site_id"))
    if fields.get("status") == ProjectStatus.done.value:
        fields["done_at"] = now
    base = slugify(fields["title"])
    for attempt in range(20):
        slug = base if attempt == 0 and base not in RESERVED_SLUGS else f"{base[:75]}-{attempt + 1}"
        if await Project.exists().where(Project.slug == slug):
            continue
        try:
            async with database.write_transaction():
                rows = await Project.insert(Project(
                    slug=slug, site=site_id, created_by=viewer.account_id, created_at=now,
                    updated_at=now, **fields)).returning(Project.id)
                project_id = rows[0]["id"]
                await ProjectMember.insert(ProjectMember(project=project_id, account=viewer.account_id,
                                                         role=MemberRole.owner.value))
                if tags:
                    await ProjectTag.insert(*[ProjectTag(project=project_id, tag=t) for t in tags])
        except Exception as exc:
            if is_unique_violation(exc):
                continue
            raise
        return await Project.select().where(Project.id == project_id).first()
    raise Refused("slug_taken", status=409, slug=base)


async def update_project(viewer: Viewer, slug: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Change what was sent. Licence and visibility are the owners' choice."""
    found = await editable(viewer, slug)
    fields = checked_fields(values)
    if ("licence" in fields and fields["licence"] != found.project["licence"]
            or "visibility" in fields and fields["visibility"] != found.project["visibility"]) \
            and not found.is_owner:
        raise Refused("project_owners_only", status=403)
    if "status" in fields and fields["status"] != found.project["status"]:
        fields["done_at"] = now if fields["status"] == ProjectStatus.done.value else None
    tags = normalise_tags(values["tags"]) if values.get("tags") is not None else None
    if "site_id" in values:
        fields["site"] = await _checked_site(values["site_id"])
    async with database.write_transaction():
        await Project.update({**fields, "updated_at": now}).where(Project.id == found.id)
        if tags is not None:
            await ProjectTag.delete().where(ProjectTag.project == found.id)
            if tags:
                await ProjectTag.insert(*[ProjectTag(project=found.id, tag=t) for t in tags])
    return await Project.select().where(Project.id == found.id).first()


async def delete_project(viewer: Viewer, slug: str) -> None:
    """Owners (and admins) delete a project, its steps, photos and files."""
    found = await access(viewer, slug)
    if not found.can_delete:
        raise Refused("project_owners_only", status=403)
    files = await MediaFile.select(MediaFile.stored, MediaFile.thumbnail).where(MediaFile.project == found.id)
    await Project.delete().where(Project.id == found.id)
    media.remove(*[f["stored"] for f in files], *[f["thumbnail"] for f in files])


# --- members -------------------------------------------------------------------------

async def members_of(project_id: int) -> list[dict[str, Any]]:
    rows = await ProjectMember.select(
        ProjectMember.account, ProjectMember.role, ProjectMember.account.username.as_alias("username"),
        ProjectMember.account.display_name.as_alias("display_name"),
    ).where(ProjectMember.project == project_id).order_by(ProjectMember.id)
    for row in rows:
        row["credit"] = row["display_name"] or row["username"]
    return rows


async def add_member(viewer: Viewer, slug: str, username: str,
                     role: str = MemberRole.collaborator.value) -> list[dict[str, Any]]:
    found = await owned(viewer, slug)
    role = _choice("role", role, MemberRole)
    name = normalise_username(username)
    account = await Account.select(Account.id).where(
        (Account.username == name) & (Account.active == True)  # noqa: E712
    ).first() if name and "\x00" not in name else None  # PostgreSQL fails on a NUL byte
    if account is None:
        raise Refused("project_member_unknown", username=clean_text(username, 100))
    existing = await ProjectMember.select(ProjectMember.id, ProjectMember.role).where(
        (ProjectMember.project == found.id) & (ProjectMember.account == account["id"])).first()
    if existing and existing["role"] == MemberRole.owner.value and role != MemberRole.owner.value:
        # An owner made a collaborator: the project must keep an owner (who alone may
        # change its visibility, its people, or delete it).
        owners = await ProjectMember.count().where(
            (ProjectMember.project == found.id) & (ProjectMember.role == MemberRole.owner.value))
        if owners <= 1:
            raise Refused("project_last_owner", status=409)
    if existing:
        await ProjectMember.update({ProjectMember.role: role}).where(ProjectMember.id == existing["id"])
    else:
        await ProjectMember.insert(ProjectMember(project=found.id, account=account["id"], role=role))
    return await members_of(found.id)


async def remove_member(viewer: Viewer, slug: str, account_id: int) -> list[dict[str, Any]]:
    found = await owned(viewer, slug)
    if not is_id(account_id):
        raise Refused.not_found(f"la personne n° {account_id}", f"person #{account_id}")
    members = await members_of(found.id)
    owners = [m for m in members if m["role"] == MemberRole.owner.value]
    if len(owners) == 1 and owners[0]["account"] == account_id:
        raise Refused("project_last_owner", status=409)
    await ProjectMember.delete().where(
        (ProjectMember.project == found.id) & (ProjectMember.account == account_id))
    return await members_of(found.id)


# --- steps, photos and files ---------------------------------------------------------

async def add_step(viewer: Viewer, slug: str, happened_on: date, title: str, body: str) -> dict[str, Any]:
    found = await editable(viewer, slug)
    rows = await ProjectStep.insert(ProjectStep(
        project=found.id, happened_on=happened_on, title=clean_text(title, MAX_TITLE),
        body=clean_body(body, MAX_BODY), author=viewer.account_id)).returning(ProjectStep.id)
    await Project.update({Project.updated_at: datetime.now(UTC)}).where(Project.id == found.id)
    return await ProjectStep.select().where(ProjectStep.id == rows[0]["id"]).first()


async def delete_step(viewer: Viewer, slug: str, step_id: int) -> None:
    found = await editable(viewer, slug)
    if not is_id(step_id):
        raise Refused.not_found(f"l'étape n° {step_id}", f"step #{step_id}")
    files = await MediaFile.select(MediaFile.stored, MediaFile.thumbnail).where(
        (MediaFile.step == step_id) & (MediaFile.project == found.id))
    deleted = await ProjectStep.delete().where(
        (ProjectStep.id == step_id) & (ProjectStep.project == found.id)).returning(ProjectStep.id)
    if not deleted:
        raise Refused.not_found(f"l'étape n° {step_id}", f"step #{step_id}")
    media.remove(*[f["stored"] for f in files], *[f["thumbnail"] for f in files])


async def check_room(project_id: int, step_id: int | None, adding: int) -> None:
    """Refuse before anything is read further when the count limits would be passed."""
    total = await MediaFile.count().where(MediaFile.project == project_id)
    if total + adding > media.MAX_FILES_PER_PROJECT:
        raise Refused("too_many_files", limit=media.MAX_FILES_PER_PROJECT)
    if step_id is not None:
        in_step = await MediaFile.count().where(MediaFile.step == step_id)
        if in_step + adding > media.MAX_FILES_PER_STEP:
            raise Refused("too_many_files_in_step", limit=media.MAX_FILES_PER_STEP)


async def check_space(project_id: int, adding_bytes: int) -> None:
    """Refuse when ``adding_bytes`` more would pass the project's total size."""
    used = await MediaFile.select(MediaFile.size).where(MediaFile.project == project_id)
    if sum(r["size"] for r in used) + adding_bytes > media.MAX_PROJECT_BYTES:
        raise Refused("project_full", megabytes=media.MAX_PROJECT_BYTES // media.MB)


async def add_media(viewer: Viewer, slug: str, name: str, data: bytes, *, step_id: int | None = None,
                    alt: str = "", cover: bool = False, prepared: media.Prepared | None = None) -> dict[str, Any]:
    """Check, re-encode and keep one upload (``prepared``: already checked by
    media.prepare). Files are written first, then the row; if the row cannot be written
    the files are removed: nothing is left half-done."""
    found = await editable(viewer, slug)
    if step_id is not None and not (is_id(step_id) and await ProjectStep.exists().where(
            (ProjectStep.id == step_id) & (ProjectStep.project == found.id))):
        raise Refused.not_found(f"l'étape n° {step_id}", f"step #{step_id}")
    await check_room(found.id, step_id, 1)
    await check_space(found.id, len(data))
    # decoding, re-encoding and fsync take long: off the event loop, other requests go on
    prepared = prepared or await to_thread.run_sync(media.prepare, data)
    if cover and prepared.kind != MediaKind.image:
        raise Refused("cover_must_be_image")
    stored = media.new_stored_name(prepared.extension)
    thumbnail = stored.rsplit(".", 1)[0] + "-thumb.webp" if prepared.thumbnail else ""
    try:
        await to_thread.run_sync(media.write_atomically, stored, prepared.data)
        if prepared.thumbnail:
            await to_thread.run_sync(media.write_atomically, thumbnail, prepared.thumbnail)
        async with database.write_transaction():
            if cover:
                await MediaFile.update({MediaFile.is_cover: False}).where(MediaFile.project == found.id)
            rows = await MediaFile.insert(MediaFile(
                project=found.id, step=step_id, is_cover=cover, kind=prepared.kind.value,
                name=clean_file_name(name, prepared.extension), stored=stored, thumbnail=thumbnail,
                content_type=prepared.content_type, size=len(prepared.data), width=prepared.width,
                height=prepared.height, alt=clean_text(alt, MAX_ALT), uploaded_by=viewer.account_id,
            )).returning(MediaFile.id)
    except BaseException:
        media.remove(stored, thumbnail)
        raise
    return await MediaFile.select().where(MediaFile.id == rows[0]["id"]).first()


async def delete_media(viewer: Viewer, slug: str, media_id: int) -> None:
    found = await editable(viewer, slug)
    row = await MediaFile.select().where((MediaFile.id == media_id) & (MediaFile.project == found.id)).first() \
        if is_id(media_id) else None
    if row is None:
        raise Refused.not_found(f"le fichier n° {media_id}", f"file #{media_id}")
    await MediaFile.delete().where(MediaFile.id == media_id)
    media.remove(row["stored"], row["thumbnail"])


async def media_for(viewer: Viewer, media_id: int) -> dict[str, Any]:
    """A photo or file, if the viewer may see its project (« not found » otherwise)."""
    if not is_id(media_id):
        raise Refused.not_found("ce fichier", "this file")
    row = await MediaFile.select(MediaFile.all_columns(), MediaFile.project.slug.as_alias("slug"),
                                 MediaFile.project.visibility.as_alias("visibility")
                                 ).where(MediaFile.id == media_id).first()
    if row is None:
        raise Refused.not_found("ce fichier", "this file")
    try:
        await access(viewer, row["slug"])
    except Refused:
        raise Refused.not_found("ce fichier", "this file") from None
    return row
