"""Workshops (ateliers): planned on a public calendar with optional registration, or logged
after the fact, with anonymous attendance by audience."""

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
from fabbooking.network.tables import Machine, Site


class Audience(str, Enum):
    children = "children"
    teens = "teens"
    adults = "adults"
    seniors = "seniors"
    job_seekers = "job_seekers"
    school_groups = "school_groups"
    other = "other"


class WorkshopStatus(str, Enum):
    planned = "planned"  # announced, not yet logged
    done = "done"  # took place; attendance logged
    cancelled = "cancelled"


class RegistrationStatus(str, Enum):
    registered = "registered"
    waiting = "waiting"
    cancelled = "cancelled"


class WorkshopSeries(Table, tablename="recurring_workshop"):  # not « workshop_series »: the name of workshop.series's index
    """A workshop planned every week, every other week or on chosen days: each date is a
    Workshop of its own (moved or cancelled alone) that names its series."""

    site = ForeignKey(Site, null=False, index=True, on_delete=OnDelete.restrict)
    title = Varchar(length=200)
    frequency = Varchar(length=20)  # recurrence.Frequency
    until = Date(null=True, default=None)  # the last day planned (weekly, fortnightly)
    created_by = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)  # every date to come was cancelled


class Workshop(Table, tablename="workshop"):
    site = ForeignKey(Site, null=False, index=True, on_delete=OnDelete.restrict)
    title = Varchar(length=200)
    theme = Varchar(length=100, default="")
    description = Text(default="")
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    status = Varchar(length=20, choices=WorkshopStatus, default=WorkshopStatus.planned)
    public = Boolean(default=True)  # shown on the public calendar and the site's feed
    registration = Boolean(default=False)  # people may register
    capacity = Integer(null=True, default=None)
    notes = Text(default="")  # the animators' own notes, never public
    created_by = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    logged_at = Timestamptz(null=True, default=None)
    series = ForeignKey(WorkshopSeries, null=True, default=None, index=True,
                        on_delete=OnDelete.set_null)


class WorkshopAnimator(Table, tablename="workshop_animator"):
    workshop = ForeignKey(Workshop, null=False, index=True, on_delete=OnDelete.cascade)
    account = ForeignKey(Account, null=False, index=True, on_delete=OnDelete.cascade)


class WorkshopMachine(Table, tablename="workshop_machine"):
    """A machine used by the workshop; a planned workshop holds it with a booking of
    purpose « workshop », so the booking rules keep everyone else off it."""

    workshop = ForeignKey(Workshop, null=False, index=True, on_delete=OnDelete.cascade)
    machine = ForeignKey(Machine, null=False, index=True, on_delete=OnDelete.restrict)
    booking = ForeignKey(Booking, null=True, default=None, on_delete=OnDelete.set_null)


class Attendance(Table, tablename="workshop_attendance"):
    """Anonymous head count of one audience at a workshop."""

    workshop = ForeignKey(Workshop, null=False, index=True, on_delete=OnDelete.cascade)
    audience = Varchar(length=20, choices=Audience)
    head_count = Integer(default=0)
    first_timers = Integer(default=0)


class Registration(Table, tablename="workshop_registration"):
    """A place asked for at a workshop: by a maker with an account, or just a name given at
    the desk. Waiting registrations move up, oldest first, when a place frees."""

    workshop = ForeignKey(Workshop, null=False, index=True, on_delete=OnDelete.cascade)
    account = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)
    name = Varchar(length=150, default="")
    status = Varchar(length=20, choices=RegistrationStatus, default=RegistrationStatus.registered)
    created_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)
