"""The network's figures, month by month: pure arithmetic on plain rows (no I/O).

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
        match = _MONTH.match(text.strip())
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


# --- the rows the database gives ------------------------------------------------------

@dataclass(frozen=True)
class SiteRow:
    id: int
    slug: str
    name: str
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class BookingRow:
    site_id: int
    machine_kind: str
    maker_id: int
    start_at: datetime
    end_at: datetime
    status: str  # confirmed | cancelled | no_show
    purpose: str = "maker"  # maker | workshop


@dataclass(frozen=True)
class SessionRow:
    site_id: int
    machine_kind: str
    started_at: datetime
    duration_s: float | None
    walk_in: bool = False
    ended_at: datetime | None = None


@dataclass(frozen=True)
class WorkshopRow:
    site_id: int
    starts_at: datetime
    status: str  # planned | done | cancelled
    attendance: tuple[tuple[str, int, int], ...] = ()  # (audience, head_count, first_timers)
    registrations: int = 0  # places held (status registered)


@dataclass(frozen=True)
class ProjectRow:
    site_id: int | None
    created_at: datetime
    done_at: datetime | None = None


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
    maker_ids: frozenset[int] = frozenset()  # never leaves this package: only its size does

    @property
    def distinct_makers(self) -> int:
        return len(self.maker_ids)

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


def overlap_hours(start: datetime, end: datetime, lower: datetime, upper: datetime) -> float:
    """Hours of [start, end) inside [lower, upper)."""
    seconds = (min(end, upper) - max(start, lower)).total_seconds()
    return seconds / 3600 if seconds > 0 else 0.0


def _session_end(row: SessionRow) -> datetime | None:
    if row.duration_s is not None:
        return row.started_at + timedelta(seconds=max(row.duration_s, 0.0))
    return row.ended_at


def site_month(
    site: SiteRow,
    month: Month,
    now: datetime,
    bookings: Iterable[BookingRow] = (),
    sessions: Iterable[SessionRow] = (),
    workshops: Iterable[WorkshopRow] = (),
    projects: Iterable[ProjectRow] = (),
) -> Figures:
    """One site's figures for ``month``. Rows of other sites are ignored, so the same rows
    may be given for every site."""
    tz = ZoneInfo(site.timezone or DEFAULT_TIMEZONE)
    lower, upper = month.bounds(tz)
    figures = Figures(month=month, site=site)
    makers: set[int] = set()
    for b in bookings:
        if b.site_id != site.id:
            continue
        starts_here = lower <= b.start_at < upper
        if b.status != "cancelled":
            hours = overlap_hours(b.start_at, b.end_at, lower, upper)
            figures.booked_hours += hours
            figures.booked_hours_by_kind[_kind(b.machine_kind)] += hours
        if b.purpose != "maker" or not starts_here:
            continue
        if b.status == "cancelled":
            figures.bookings_cancelled += 1
            continue
        figures.bookings += 1
        if b.status == "no_show":
            figures.no_shows += 1
            figures.due_bookings += 1
        elif b.end_at <= now:
            figures.due_bookings += 1
        if b.status == "confirmed":
            makers.add(b.maker_id)
    figures.maker_ids = frozenset(makers)
    for s in sessions:
        end = _session_end(s)
        if s.site_id != site.id or end is None:
            continue
        hours = overlap_hours(s.started_at, end, lower, upper)
        figures.used_hours += hours
        figures.used_hours_by_kind[_kind(s.machine_kind)] += hours
        if s.walk_in:
            figures.walk_in_hours += hours
        if lower <= s.started_at < upper:
            figures.sessions += 1
            figures.walk_in_sessions += s.walk_in
    for w in workshops:
        if w.site_id != site.id or not (lower <= w.starts_at < upper) or w.status == "cancelled":
            continue
        figures.registrations += w.registrations
        if w.status != "done":
            continue
        figures.workshops_held += 1
        for audience, head_count, first_timers in w.attendance:
            figures.attendance[_audience(audience)] += head_count or 0
            figures.first_timers[_audience(audience)] += first_timers or 0
    for p in projects:
        if p.site_id != site.id:
            continue
        figures.projects_started += lower <= p.created_at < upper
        figures.projects_finished += p.done_at is not None and lower <= p.done_at < upper
    return figures


def network_month(month: Month, sites: Sequence[Figures], now: datetime | None = None,
                  siteless_projects: Iterable[ProjectRow] = ()) -> Figures:
    """The network's month: the sum of its sites' months. Distinct makers are distinct
    over the network. Projects without a site count here (in the default timezone) and
    at no site."""
    total = Figures(month=month)
    makers: set[int] = set()
    for f in sites:
        for name in ("bookings", "bookings_cancelled", "booked_hours", "used_hours", "sessions",
                     "no_shows", "due_bookings", "walk_in_sessions", "walk_in_hours",
                     "workshops_held", "registrations", "projects_started", "projects_finished"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
        for name in ("attendance", "first_timers", "used_hours_by_kind", "booked_hours_by_kind"):
            mine = getattr(total, name)
            for key, value in getattr(f, name).items():
                mine[key] = mine.get(key, 0) + value
        makers |= f.maker_ids
    total.maker_ids = frozenset(makers)
    lower, upper = month.bounds(ZoneInfo(DEFAULT_TIMEZONE))
    for p in siteless_projects:
        if p.site_id is None:
            total.projects_started += lower <= p.created_at < upper
            total.projects_finished += p.done_at is not None and lower <= p.done_at < upper
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

    def site(self, site_id: int) -> Figures | None:
        return next((f for f in self.sites if f.site and f.site.id == site_id), None)


def compute_month(
    month: Month,
    sites: Sequence[SiteRow],
    now: datetime,
    bookings: Sequence[BookingRow] = (),
    sessions: Sequence[SessionRow] = (),
    workshops: Sequence[WorkshopRow] = (),
    projects: Sequence[ProjectRow] = (),
) -> MonthResult:
    """Every site's month and the network's, from one set of rows."""
    by_site: dict[int | None, dict[str, list]] = {}
    for kind, rows in (("bookings", bookings), ("sessions", sessions),
                       ("workshops", workshops), ("projects", projects)):
        for row in rows:
            by_site.setdefault(row.site_id, {}).setdefault(kind, []).append(row)
    figures = [site_month(site, month, now, **by_site.get(site.id, {})) for site in sites]
    siteless = by_site.get(None, {}).get("projects", [])
    return MonthResult(month, figures, network_month(month, figures, now, siteless))


def window(month: Month, sites: Sequence[SiteRow]) -> tuple[datetime, datetime]:
    """The UTC moments that cover ``month`` at every one of ``sites`` (and the default
    timezone, for projects without a site)."""
    zones = {s.timezone or DEFAULT_TIMEZONE for s in sites} | {DEFAULT_TIMEZONE}
    bounds = [month.bounds(ZoneInfo(z)) for z in zones]
    return min(b[0] for b in bounds), max(b[1] for b in bounds)
