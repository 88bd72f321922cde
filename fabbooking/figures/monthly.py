"""The network's figures, month by month: pure arithmetic on a month's totals (no I/O).

Months are the site's own calendar months: « novembre 2026 » at a site in Europe/Paris
runs from 1 November 00:00 Paris time to 1 December 00:00 Paris time, whatever the DST
change in between. The network's figures for a month are the sum of its sites' figures,
each counted in its own timezone; only the distinct makers are counted once over the
whole network (a person booking at two sites is one person).

What counts where (documented in docs/open-data.md):

- a booking, a session, a workshop, a project counts in the month it starts (is created,
  is finished for ``projects_finished``);
- hours are clipped to the month: a job from 31 October 23:30 to 1 November 00:30 gives
  half an hour to each month;
- « bookings » are makers' own bookings (purpose ``maker``) that were not cancelled
  (confirmed or no-show); cancelled ones are counted apart; machine holds for workshops
  are not bookings but their hours are booked hours;
- the no-show rate is no-shows / (confirmed bookings already over + no-shows), None when
  nothing was due yet.

The database adds the rows up (queries.py: one aggregate per kind of row, grouped by site,
month, machine kind, status…); rows.py says the same on plain rows, so tests can hold the
SQL to it. Here the totals become each site's Figures and the network's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

AUDIENCES = ("children", "teens", "adults", "seniors", "job_seekers", "school_groups", "other")
MACHINE_KINDS = ("3d_printer", "laser_cutter", "vinyl_cutter", "cnc", "embroidery", "other")
DEFAULT_TIMEZONE = "Europe/Paris"
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")  # ASCII digits only, not « ٢٠٢٦-٠١ »


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """« 2026-11 »; ValueError for anything else."""
        match = _MONTH.match(text)
        if not match:
            raise ValueError(text)
        year, month = int(match.group(1)), int(match.group(2))
        if not (1 <= month <= 12 and 1900 <= year <= 9998):
            raise ValueError(text)
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def index(self) -> int:
        return self.year * 12 + self.month - 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the month in ``tz``, as UTC moments."""
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        following = self.next()
        end = datetime(following.year, following.month, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


def month_range(first: Month, last: Month) -> list[Month]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = current.next()
    return months



# --- what the database adds up, per site and month ----------------------------------

@dataclass(frozen=True)
class SiteRow:
    id: int
    slug: str
    name: str
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class BookingTotal:
    """Bookings of one site, month, machine kind, status and purpose."""

    site_id: int
    month: Month
    machine_kind: str
    status: str  # confirmed | cancelled | no_show
    purpose: str  # maker | workshop
    starting: int = 0  # how many start in the month
    starting_over: int = 0  # of those, how many had ended by « now »
    seconds: float = 0.0  # time of every such booking inside the month, clipped to it


@dataclass(frozen=True)
class SessionTotal:
    """Usage sessions with an end, of one site, month, machine kind and walk-in flag."""

    site_id: int
    month: Month
    machine_kind: str
    walk_in: bool
    starting: int = 0
    seconds: float = 0.0  # clipped to the month


@dataclass(frozen=True)
class WorkshopTotal:
    """Workshops (not cancelled) starting in one site's month, by status."""

    site_id: int
    month: Month
    status: str  # planned | done
    workshops: int = 0
    registrations: int = 0  # places held (status registered)


@dataclass(frozen=True)
class AttendanceTotal:
    """People at the workshops held (status done) in one site's month, by audience."""

    site_id: int
    month: Month
    audience: str
    head_count: int = 0
    first_timers: int = 0


@dataclass(frozen=True)
class ProjectTotal:
    """Projects created and finished in a site's month (``site_id`` None: no site, counted
    in the default timezone, for the network only)."""

    site_id: int | None
    month: Month
    started: int = 0
    finished: int = 0


Key = tuple[int | None, Month]


@dataclass
class Totals:
    """Everything a few months' figures are made of, by (site id, month). Distinct makers
    are counted by the database per site and for the network (key (None, month))."""

    bookings: dict[Key, list[BookingTotal]] = field(default_factory=dict)
    sessions: dict[Key, list[SessionTotal]] = field(default_factory=dict)
    workshops: dict[Key, list[WorkshopTotal]] = field(default_factory=dict)
    attendance: dict[Key, list[AttendanceTotal]] = field(default_factory=dict)
    projects: dict[Key, list[ProjectTotal]] = field(default_factory=dict)
    makers: dict[Key, int] = field(default_factory=dict)
    # by month: the latest end at or before « now » and the earliest after it of the confirmed
    # makers' bookings that start in the month (at any site); None: there is none
    steady: dict[Month, tuple[datetime | None, datetime | None]] = field(default_factory=dict)

    def due(self, month: Month, last: datetime | None, following: datetime | None) -> None:
        """One group's ends around « now » (``last`` at or before it, ``following`` after
        it): the month's figures hold while « now » stays between the latest ``last`` and
        the earliest ``following`` of all its groups."""
        known_last, known_next = self.steady.get(month, (None, None))
        if last is not None and (known_last is None or last > known_last):
            known_last = last
        if following is not None and (known_next is None or following < known_next):
            known_next = following
        self.steady[month] = (known_last, known_next)

    def add(self, total) -> None:
        kind = {BookingTotal: self.bookings, SessionTotal: self.sessions,
                WorkshopTotal: self.workshops, AttendanceTotal: self.attendance,
                ProjectTotal: self.projects}[type(total)]
        kind.setdefault((total.site_id, total.month), []).append(total)


# --- the figures ----------------------------------------------------------------------

@dataclass
class Figures:
    """One site's month (``site`` set) or the network's (``site`` None)."""

    month: Month
    site: SiteRow | None = None
    bookings: int = 0
    bookings_cancelled: int = 0
    booked_hours: float = 0.0
    used_hours: float = 0.0
    sessions: int = 0
    no_shows: int = 0
    due_bookings: int = 0  # confirmed and over, plus no-shows: the no-show rate's denominator
    walk_in_sessions: int = 0
    walk_in_hours: float = 0.0
    workshops_held: int = 0
    attendance: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AUDIENCES, 0))
    first_timers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AUDIENCES, 0))
    registrations: int = 0
    projects_started: int = 0
    projects_finished: int = 0
    used_hours_by_kind: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MACHINE_KINDS, 0.0))
    booked_hours_by_kind: dict[str, float] = field(default_factory=lambda: dict.fromkeys(MACHINE_KINDS, 0.0))
    distinct_makers: int = 0  # over the network, a person booking at two sites counts once

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.due_bookings if self.due_bookings else None

    @property
    def attendance_total(self) -> int:
        return sum(self.attendance.values())

    @property
    def first_timers_total(self) -> int:
        return sum(self.first_timers.values())

    @property
    def busiest_basis(self) -> str | None:
        """« used » when machines reported use this month, else « booked », else None."""
        if any(h > 0 for h in self.used_hours_by_kind.values()):
            return "used"
        if any(h > 0 for h in self.booked_hours_by_kind.values()):
            return "booked"
        return None

    @property
    def busiest_kinds(self) -> list[tuple[str, float]]:
        """Machine kinds by hours, most first (used hours, or booked hours when no machine
        reported its use); kinds with no hours left out."""
        basis = self.busiest_basis
        if basis is None:
            return []
        hours = self.used_hours_by_kind if basis == "used" else self.booked_hours_by_kind
        ranked = [(kind, h) for kind, h in hours.items() if h > 0]
        return sorted(ranked, key=lambda item: (-item[1], MACHINE_KINDS.index(item[0])
                                                if item[0] in MACHINE_KINDS else 99))


def _kind(kind: str) -> str:
    return kind if kind in MACHINE_KINDS else "other"


def _audience(audience: str) -> str:
    return audience if audience in AUDIENCES else "other"


def site_month(site: SiteRow, month: Month, totals: Totals) -> Figures:
    """One site's figures for ``month``."""
    key = (site.id, month)
    figures = Figures(month=month, site=site, distinct_makers=totals.makers.get(key, 0))
    for b in totals.bookings.get(key, ()):
        if b.status != "cancelled":
            hours = b.seconds / 3600
            figures.booked_hours += hours
            figures.booked_hours_by_kind[_kind(b.machine_kind)] += hours
        if b.purpose != "maker":
            continue
        if b.status == "cancelled":
            figures.bookings_cancelled += b.starting
            continue
        figures.bookings += b.starting
        if b.status == "no_show":
            figures.no_shows += b.starting
            figures.due_bookings += b.starting
        else:
            figures.due_bookings += b.starting_over
    for s in totals.sessions.get(key, ()):
        hours = s.seconds / 3600
        figures.used_hours += hours
        figures.used_hours_by_kind[_kind(s.machine_kind)] += hours
        figures.sessions += s.starting
        if s.walk_in:
            figures.walk_in_hours += hours
            figures.walk_in_sessions += s.starting
    for w in totals.workshops.get(key, ()):
        figures.registrations += w.registrations
        if w.status == "done":
            figures.workshops_held += w.workshops
    for a in totals.attendance.get(key, ()):
        figures.attendance[_audience(a.audience)] += a.head_count
        figures.first_timers[_audience(a.audience)] += a.first_timers
    for p in totals.projects.get(key, ()):
        figures.projects_started += p.started
        figures.projects_finished += p.finished
    return figures


def network_month(month: Month, sites: Sequence[Figures], totals: Totals) -> Figures:
    """The network's month: the sum of its sites' months. Distinct makers are distinct
    over the network. Projects without a site count here (in the default timezone) and
    at no site."""
    total = Figures(month=month, distinct_makers=totals.makers.get((None, month), 0))
    for f in sites:
        for name in ("bookings", "bookings_cancelled", "booked_hours", "used_hours", "sessions",
                     "no_shows", "due_bookings", "walk_in_sessions", "walk_in_hours",
                     "workshops_held", "registrations", "projects_started", "projects_finished"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
        for name in ("attendance", "first_timers", "used_hours_by_kind", "booked_hours_by_kind"):
            mine = getattr(total, name)
            for key, value in getattr(f, name).items():
                mine[key] = mine.get(key, 0) + value
    for p in totals.projects.get((None, month), ()):
        total.projects_started += p.started
        total.projects_finished += p.finished
    return total


@dataclass
class MonthResult:
    """Every site's figures for one month, and the network's."""

    month: Month
    sites: list[Figures]
    network: Figures
    # the suppressed records, by threshold k (services.publish): a cached month is not
    # suppressed again on every visit
    suppressed: dict = field(default_factory=dict, repr=False, compare=False)
    # « now » from and until which these figures hold (None: unbounded): the ends of the
    # month's due bookings around the « now » they were computed for
    steady: tuple[datetime | None, datetime | None] = field(default=(None, None), repr=False, compare=False)

    def site(self, site_id: int) -> Figures | None:
        return next((f for f in self.sites if f.site and f.site.id == site_id), None)


def month_result(month: Month, sites: Sequence[SiteRow], totals: Totals) -> MonthResult:
    """Every site's month and the network's, from the month's totals."""
    figures = [site_month(site, month, totals) for site in sites]
    return MonthResult(month, figures, network_month(month, figures, totals),
                       steady=totals.steady.get(month, (None, None)))


@dataclass(frozen=True)
class Bounds:
    """Where one site's month begins and ends (UTC); ``site_id`` None: the default
    timezone's month, for projects without a site."""

    site_id: int | None
    month: Month
    lower: datetime
    upper: datetime


def bounds(months: Iterable[Month], sites: Sequence[SiteRow]) -> list[Bounds]:
    """Every site's bounds of every month in ``months``, and the default timezone's."""
    zones: dict[str, ZoneInfo] = {}
    found = []
    for month in months:
        for site_id, name in [(s.id, s.timezone or DEFAULT_TIMEZONE) for s in sites] + [(None, DEFAULT_TIMEZONE)]:
            tz = zones.setdefault(name, ZoneInfo(name))
            found.append(Bounds(site_id, month, *month.bounds(tz)))
    return found


def window(month: Month, sites: Sequence[SiteRow]) -> tuple[datetime, datetime]:
    """The UTC moments that cover ``month`` at every one of ``sites`` (and the default
    timezone, for projects without a site)."""
    found = bounds([month], sites)
    return min(b.lower for b in found), max(b.upper for b in found)
