"""The network's places and machines: sites, their opening hours and closures, staff, machines."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import (
    JSONB,
    Date,
    ForeignKey,
    Integer,
    SmallInt,
    Text,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from fabbooking.accounts.tables import Account
from fabbooking.training.tables import Training


class SiteKind(str, Enum):
    papifab = "papifab"
    fablab = "fablab"
    other = "other"


class MachineKind(str, Enum):
    printer_3d = "3d_printer"
    laser_cutter = "laser_cutter"
    vinyl_cutter = "vinyl_cutter"
    cnc = "cnc"
    embroidery = "embroidery"
    other = "other"


class MachineStatus(str, Enum):
    available = "available"
    maintenance = "maintenance"
    out_of_order = "out_of_order"


class Site(Table, tablename="site"):
    """A PAPIFab, a FabLab or another public fab space. Its booking rules are the defaults
    of its machines."""

    name = Varchar(length=150)
    slug = Varchar(length=80, unique=True)
    kind = Varchar(length=20, choices=SiteKind, default=SiteKind.papifab)
    neighbourhood = Varchar(length=100, default="")
    address = Text(default="")
    timezone = Varchar(length=64, default="Europe/Paris")
    description = Text(default="")
    slot_minutes = SmallInt(default=15)
    min_minutes = SmallInt(default=15)
    max_minutes = SmallInt(default=240)
    max_days_ahead = SmallInt(default=30)
    min_notice_minutes = Integer(default=0)
    cancel_deadline_minutes = Integer(default=60)
    max_future_bookings = SmallInt(default=3)
    buffer_minutes = SmallInt(default=0)
    no_show_grace_minutes = SmallInt(default=15)
    reminder_hour = SmallInt(default=17)  # local hour from which the day-before e-mail reminders go


class OpeningPeriod(Table, tablename="opening_period"):
    """One opening period of a weekday, in the site's local time (Monday is 0)."""

    site = ForeignKey(Site, null=False, index=True)
    weekday = SmallInt()
    opens = Time()
    closes = Time()


class Closure(Table, tablename="closure"):
    """The site is closed from ``start_date`` to ``end_date``, both included (local dates)."""

    site = ForeignKey(Site, null=False, index=True)
    start_date = Date()
    end_date = Date()
    reason = Varchar(length=200, default="")


class Staff(Table, tablename="staff"):
    """An animator works at a site: they run its desk and manage its machines."""

    site = ForeignKey(Site, null=False, index=True)
    account = ForeignKey(Account, null=False, index=True)


class Machine(Table, tablename="machine"):
    """A bookable machine. A rule left empty takes the site's default."""

    site = ForeignKey(Site, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=150)
    slug = Varchar(length=80, index=True)
    kind = Varchar(length=20, choices=MachineKind, default=MachineKind.printer_3d)
    status = Varchar(length=20, choices=MachineStatus, default=MachineStatus.available)
    description = Text(default="")
    specs = JSONB(default="{}")
    required_training = ForeignKey(Training, null=True, default=None, on_delete=OnDelete.set_null)
    slot_minutes = SmallInt(null=True, default=None)
    min_minutes = SmallInt(null=True, default=None)
    max_minutes = SmallInt(null=True, default=None)
    max_days_ahead = SmallInt(null=True, default=None)
    min_notice_minutes = Integer(null=True, default=None)
    cancel_deadline_minutes = Integer(null=True, default=None)
    max_future_bookings = SmallInt(null=True, default=None)
    buffer_minutes = SmallInt(null=True, default=None)


class DemoNetwork(Table, tablename="demo_network"):
    """One row when this database holds the demo network of ``fabbooking demo``: ``serve``
    then plays its machines (fabbooking/usage/demo_live.py) and the pages say so."""

    loaded_at = Timestamptz()
