"""A known month of the test network (March 2026, Europe/Paris), for the figures tests.

March 2026 in Paris runs from 2026-02-28T23:00Z to 2026-03-31T22:00Z; clocks go from 02:00
to 03:00 on Sunday 29 March. Everything personal carries a marker (SECRET_*) that no
export, feed or public page may ever show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fabbooking.bookings.tables import Booking
from fabbooking.projects.tables import Project
from fabbooking.usage.tables import UsageSession
from fabbooking.workshops.tables import Attendance, Registration, Workshop, WorkshopMachine

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 4, 15, 12, 0, tzinfo=PARIS)  # every March booking is over
SECRET_NOTE = "SECRET_NOTE booking text"
SECRET_NAME = "SECRET_NAME Jeanne"
SECRET_NOTES = "SECRET_NOTES of the animators"
SECRET_FILE = "SECRET_FILE.gcode"


def paris(text: str) -> datetime:
    """« 2026-03-10 10:00 » in Paris."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


async def booking(machine: int, maker: int, start: str, end: str, status: str = "confirmed",
                  purpose: str = "maker", booked_by: int | None = None) -> int:
    rows = await Booking.insert(Booking(
        machine=machine, maker=maker, booked_by=booked_by or maker, start_at=paris(start),
        end_at=paris(end), status=status, purpose=purpose, note=SECRET_NOTE,
    )).returning(Booking.id)
    return rows[0]["id"]


async def session(machine: int, start: str, seconds: float, walk_in: bool = False,
                  booking_id: int | None = None) -> None:
    began = paris(start)
    await UsageSession.insert(UsageSession(
        key=f"{machine}:{start}", machine=machine, job_key=start, started_at=began,
        ended_at=began + timedelta(seconds=seconds), duration_s=seconds, outcome="completed", walk_in=walk_in, booking=booking_id,
        file_name=SECRET_FILE, energy_wh=10.0,
    ))


async def workshop(site: int, start: str, end: str, status: str, attendance=(),
                   registered: int = 0, cancelled_registrations: int = 0, public: bool = True,
                   title: str = "Atelier découverte") -> int:
    rows = await Workshop.insert(Workshop(
        site=site, title=title, starts_at=paris(start), ends_at=paris(end), status=status,
        public=public, notes=SECRET_NOTES,
    )).returning(Workshop.id)
    workshop_id = rows[0]["id"]
    for audience, head_count, first_timers in attendance:
        await Attendance.insert(Attendance(workshop=workshop_id, audience=audience,
                                           head_count=head_count, first_timers=first_timers))
    for n in range(registered + cancelled_registrations):
        await Registration.insert(Registration(
            workshop=workshop_id, name=f"{SECRET_NAME} {n}",
            status="registered" if n < registered else "cancelled"))
    return workshop_id


async def hold(workshop_id: int, machine: int, booking_id: int | None) -> None:
    await WorkshopMachine.insert(WorkshopMachine(workshop=workshop_id, machine=machine, booking=booking_id))


async def project(site: int | None, created: str, done: str | None = None) -> None:
    await Project.insert(Project(
        title="SECRET_TITLE private project", slug=f"p-{created}".replace(" ", "-").replace(":", ""),
        site=site, created_at=paris(created), done_at=paris(done) if done else None,
        visibility="private",
    ))


async def load_march(world) -> None:
    """The month the figures tests compute by hand (see the comments of each test)."""
    ids = world.ids
    atelier, ailleurs = ids["atelier"], ids["ailleurs"]
    printer, laser, far = ids["printer"], ids["laser"], ids["far_printer"]
    maker, newbie = ids["maker"], ids["newbie"]
    # bookings at atelier
    b1 = await booking(printer, maker, "2026-03-10 10:00", "2026-03-10 12:00")  # 2 h
    await booking(laser, newbie, "2026-03-29 10:00", "2026-03-29 11:30")  # 1.5 h, after DST
    await booking(printer, newbie, "2026-03-12 14:00", "2026-03-12 15:00", "no_show")  # 1 h
    await booking(printer, maker, "2026-03-13 14:00", "2026-03-13 15:00", "cancelled")  # 0 h
    await booking(printer, maker, "2026-03-31 23:00", "2026-04-01 01:00")  # 1 h in March, 1 h in April
    hold_id = await booking(laser, ids["animator"], "2026-03-20 14:00", "2026-03-20 16:00",
                            purpose="workshop")  # 2 h, held for W1
    # at ailleurs
    await booking(far, maker, "2026-03-05 10:00", "2026-03-05 11:00")  # 1 h
    # usage sessions at atelier
    await session(printer, "2026-03-29 01:30", 7200)  # 2 h across the DST jump (ends 04:30 local)
    await session(laser, "2026-02-28 23:30", 3600, walk_in=True)  # 0.5 h Feb + 0.5 h March
    await session(printer, "2026-03-15 10:00", 1800, walk_in=True)  # 0.5 h
    await session(printer, "2026-03-10 10:05", 5400, booking_id=b1)  # 1.5 h
    # workshops
    w1 = await workshop(atelier, "2026-03-20 14:00", "2026-03-20 16:00", "done",
                        [("children", 5, 2), ("adults", 1, 1)], registered=2, cancelled_registrations=1)
    await hold(w1, laser, hold_id)
    await workshop(atelier, "2026-03-25 18:00", "2026-03-25 20:00", "done", [("seniors", 4, 0)])
    await workshop(atelier, "2026-03-27 18:00", "2026-03-27 20:00", "planned", registered=1)
    await workshop(atelier, "2026-03-28 18:00", "2026-03-28 20:00", "cancelled", [("adults", 9, 9)],
                   registered=4)
    await workshop(ailleurs, "2026-03-18 14:00", "2026-03-18 16:00", "done", [("teens", 2, 2)])
    # projects
    await project(atelier, "2026-03-02 10:00", "2026-03-30 10:00")
    await project(atelier, "2026-02-10 10:00", "2026-03-31 23:30")  # done in March, Paris time
    await project(None, "2026-03-05 10:00")  # no site: counts for the network only
    await project(ailleurs, "2026-04-01 00:30")  # April in Paris (still March in UTC)
