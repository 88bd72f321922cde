from __future__ import annotations

from enum import Enum

from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from fabbooking.accounts.tables import Account
from fabbooking.network.tables import Machine


class BookingStatus(str, Enum):
    confirmed = "confirmed"
    cancelled = "cancelled"
    no_show = "no_show"


class BookingPurpose(str, Enum):
    maker = "maker"  # a maker's own use (booked by them or for them at the desk)
    workshop = "workshop"  # held for a planned workshop: no quota, no no-show


class Booking(Table, tablename="booking"):
    """A maker holds a machine for [start_at, end_at). Never deleted: cancelling keeps history.

    On PostgreSQL an exclusion constraint (migration ``booking_no_overlap``) makes two
    overlapping confirmed bookings of one machine impossible.
    """

    # indexed with start_at, (machine, start_at) and (maker, start_at): migration bookings_2026_12_05t16
    machine = ForeignKey(Machine, null=False, on_delete=OnDelete.restrict)
    maker = ForeignKey(Account, null=False, on_delete=OnDelete.restrict)
    booked_by = ForeignKey(Account, null=False, on_delete=OnDelete.restrict)
    start_at = Timestamptz(index=True)
    end_at = Timestamptz()
    status = Varchar(length=20, choices=BookingStatus, default=BookingStatus.confirmed)
    note = Text(default="")
    purpose = Varchar(length=20, choices=BookingPurpose, default=BookingPurpose.maker)
    created_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null)


class CalendarFeed(Table, tablename="calendar_feed"):
    """The secret address of a maker's own bookings as an iCalendar feed. Whoever knows the
    token reads that feed, nothing else; making a new one retires the old address."""

    account = ForeignKey(Account, null=False, unique=True, on_delete=OnDelete.cascade)
    token = Varchar(length=64, unique=True, secret=True)
    created_at = Timestamptz(default=TimestamptzNow())
