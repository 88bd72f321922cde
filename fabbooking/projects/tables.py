"""What makers make, documented as digital commons: projects, their dated steps, the photos
and files attached to them, and the machine time (bookings, usage sessions) they took."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from fabbooking.accounts.tables import Account
from fabbooking.bookings.tables import Booking
from fabbooking.network.tables import Site
from fabbooking.usage.tables import UsageSession


class ProjectStatus(str, Enum):
    idea = "idea"
    in_progress = "in_progress"
    done = "done"
    abandoned = "abandoned"


class Licence(str, Enum):
    cc_by_sa = "CC-BY-SA-4.0"
    cc_by = "CC-BY-4.0"
    cc0 = "CC0-1.0"
    cc_by_nc_sa = "CC-BY-NC-SA-4.0"
    all_rights_reserved = "all-rights-reserved"


class Visibility(str, Enum):
    public = "public"  # anyone, in the gallery
    members = "members"  # anyone signed in to the network
    private = "private"  # its owners and collaborators


class MemberRole(str, Enum):
    owner = "owner"
    collaborator = "collaborator"


class MediaKind(str, Enum):
    image = "image"
    model = "model"  # STL, 3MF
    drawing = "drawing"  # SVG, DXF


class Project(Table, tablename="project"):
    """A maker's project. ``body`` is Markdown, rendered to sanitised HTML on display."""

    title = Varchar(length=200)
    slug = Varchar(length=220, unique=True)
    summary = Text(default="")
    body = Text(default="")
    status = Varchar(length=20, choices=ProjectStatus, default=ProjectStatus.idea)
    licence = Varchar(length=40, choices=Licence, default=Licence.cc_by_sa)
    visibility = Varchar(length=20, choices=Visibility, default=Visibility.public, index=True)
    site = ForeignKey(Site, null=True, default=None, on_delete=OnDelete.set_null)
    created_by = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())
    done_at = Timestamptz(null=True, default=None)


class ProjectMember(Table, tablename="project_member"):
    """An owner (may do everything, including deleting) or a collaborator (may edit and add
    steps) of a project."""

    project = ForeignKey(Project, null=False, index=True, on_delete=OnDelete.cascade)
    account = ForeignKey(Account, null=False, index=True, on_delete=OnDelete.cascade)
    role = Varchar(length=20, choices=MemberRole, default=MemberRole.owner)


class ProjectTag(Table, tablename="project_tag"):
    project = ForeignKey(Project, null=False, index=True, on_delete=OnDelete.cascade)
    tag = Varchar(length=40, index=True)


class ProjectStep(Table, tablename="project_step"):
    """One dated entry of the project's log."""

    project = ForeignKey(Project, null=False, index=True, on_delete=OnDelete.cascade)
    happened_on = Date()
    title = Varchar(length=200, default="")
    body = Text(default="")
    author = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class MediaFile(Table, tablename="media_file"):
    """A photo or a file of a project (its cover when ``is_cover``) or of one of its steps.
    ``stored`` is the path under the media directory; ``name`` the cleaned original name."""

    project = ForeignKey(Project, null=False, index=True, on_delete=OnDelete.cascade)
    step = ForeignKey(ProjectStep, null=True, default=None, index=True,
                      on_delete=OnDelete.cascade)
    is_cover = Boolean(default=False)
    kind = Varchar(length=20, choices=MediaKind, default=MediaKind.image)
    name = Varchar(length=200)
    stored = Varchar(length=120, unique=True)
    thumbnail = Varchar(length=120, default="")
    content_type = Varchar(length=100)
    size = Integer(default=0)
    width = Integer(null=True, default=None)
    height = Integer(null=True, default=None)
    alt = Varchar(length=300, default="")
    uploaded_by = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class ProjectBooking(Table, tablename="project_booking"):
    """A booking made for a project: its machine time counts for the project."""

    project = ForeignKey(Project, null=False, index=True, on_delete=OnDelete.cascade)
    booking = ForeignKey(Booking, null=False, unique=True, on_delete=OnDelete.cascade)


class ProjectUsage(Table, tablename="project_usage"):
    """A usage session (a job the machine reported) attached to a project directly, such as
    a walk-in use; sessions of an attached booking count without a row here."""

    project = ForeignKey(Project, null=False, index=True, on_delete=OnDelete.cascade)
    usage_session = ForeignKey(UsageSession, null=False, unique=True,
                               on_delete=OnDelete.cascade)
