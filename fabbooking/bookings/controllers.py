from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from fabbooking.api.auth import REFERENCES_READ, CurrentViewer
from fabbooking.api.errors import error_responses
from fabbooking.api.idempotency import IdempotencyKey, answer_once
from fabbooking.api.moments import MOMENT_SCHEMA, OPTIONAL_MOMENT_SCHEMA, now, parse_moment, this_minute
from fabbooking.bookings import services
from fabbooking.bookings.schemas import (
    AvailabilityOut,
    BookingIn,
    BookingOut,
    IntervalOut,
)
from fabbooking.ids import MAX_ID
from fabbooking.web.page_cache import CACHED

START = Parameter(description="ISO 8601 with an offset, e.g. 2026-03-14T09:00:00+01:00", schema_extra=MOMENT_SCHEMA)
END = Parameter(description="ISO 8601 with an offset; at most 62 days after start", schema_extra=MOMENT_SCHEMA)


def booking_out(row: dict[str, Any]) -> BookingOut:
    return BookingOut(
        id=row["id"], machine_id=row["machine"], machine_name=row["machine_name"],
        site=row["site_slug"], maker_id=row["maker"], maker_username=row["maker_username"],
        maker_name=row["maker_name"], booked_by_id=row["booked_by"],
        on_behalf=row["booked_by"] != row["maker"], start=row["start_at"], end=row["end_at"],
        status=row["status"], note=row["note"], created_at=row["created_at"],
        cancelled_at=row["cancelled_at"],
    )


def availability_out(result: dict[str, Any]) -> AvailabilityOut:
    return AvailabilityOut(
        machine_id=result["machine_id"], site=result["site_slug"], status=result["status"],
        timezone=result["timezone"], slot_minutes=result["slot_minutes"],
        min_minutes=result["min_minutes"], max_minutes=result["max_minutes"],
        busy=[IntervalOut(i.start, i.end) for i in result["busy"]],
        free=[IntervalOut(i.start, i.end) for i in result["free"]],
    )


class BookingController(Controller):
    path = "/bookings"
    tags = ["bookings"]

    @post("/", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
    async def create(self, request: Request, data: JSONBody[BookingIn], viewer: CurrentViewer,
                     idempotency_key: IdempotencyKey = None) -> Response[BookingOut]:
        """Book a machine for [start, end). Animators of the site may set `maker_id` to book
        for someone (quotas do not apply to them; overlaps always do). Send an
        `Idempotency-Key` to retry safely."""
        # the references' counters the token was recognised under: nothing is written before
        # the booking's own transaction. With an Idempotency-Key the booking runs inside the
        # key's transaction, and reads the counters there, behind the write lock, as before.
        references = None if idempotency_key else request.scope.get(REFERENCES_READ)  # type: ignore[misc]

        async def book() -> BookingOut:
            return booking_out(await services.book(viewer, data.machine_id, data.start, data.end,
                                                   now(), note=data.note, maker_id=data.maker_id,
                                                   counters=references))

        return await answer_once(request, viewer, idempotency_key, data, book, 201, short=True)

    @get("/", responses=error_responses(401, 404, 422), opt=CACHED)
    async def list_bookings(
        self,
        viewer: CurrentViewer,
        mine: FromQuery[bool] = False,
        machine: int | None = Parameter(default=None, ge=1, le=MAX_ID, description="Machine id"),
        site: str | None = Parameter(default=None, description="Site slug"),
        start: str | None = Parameter(default=None, description=START.description, schema_extra=OPTIONAL_MOMENT_SCHEMA),
        end: str | None = Parameter(default=None, description=END.description, schema_extra=OPTIONAL_MOMENT_SCHEMA),
        past_page: int = Parameter(default=0, ge=0, le=100_000, description=(
            "Without start and end: which page of past bookings (50 a page, newest first) "
            "follows the upcoming ones; from page 1 on, only past bookings are listed")),
    ) -> list[BookingOut]:
        """Bookings I may see: my own; all of a site for its animators; everything for admins.
        With `start`/`end`: those in the range, soonest first (at most 1,000). Without: every
        booking not over yet, soonest first, then the latest 50 past ones, newest first."""
        # « now » is the minute's (this_minute): the answer is kept until the minute turns
        rows = await services.list_bookings(
            viewer, mine=mine, machine_id=machine, site_slug=site,
            start=parse_moment("start", start) if start else None,
            end=parse_moment("end", end) if end else None, past_page=past_page, now=this_minute(),
        )
        return [booking_out(r) for r in rows]

    @get("/{booking_id:int}", responses=error_responses(401, 404))
    async def get_booking(self, booking_id: FromPath[int], viewer: CurrentViewer) -> BookingOut:
        return booking_out(await services.get_booking(viewer, booking_id))

    @post("/{booking_id:int}/cancel", status_code=200, responses=error_responses(401, 403, 404, 409, 422))
    async def cancel(self, booking_id: FromPath[int], viewer: CurrentViewer) -> BookingOut:
        """Cancel: the maker until the site's deadline, the site's animators at any time.
        The booking is kept, marked cancelled."""
        return booking_out(await services.cancel(viewer, booking_id, now()))


class AvailabilityController(Controller):
    path = "/"
    tags = ["availability"]

    @get("/machines/{machine_id:int}/availability", responses=error_responses(404, 422), opt=CACHED)
    async def machine_availability(
        self, machine_id: FromPath[int], start: str = START, end: str = END
    ) -> AvailabilityOut:
        """Busy intervals and free bookable intervals of a machine (rules and hours applied)."""
        # « now » is the minute's (this_minute): the answer is kept until the minute turns
        result = await services.machine_availability(
            machine_id, parse_moment("start", start), parse_moment("end", end), this_minute()
        )
        return availability_out(result)

    @get("/sites/{slug:str}/availability", responses=error_responses(404, 422))
    async def site_availability(self, slug: FromPath[str], start: str = START, end: str = END) -> list[AvailabilityOut]:
        """The same for every machine of a site."""
        results = await services.site_availability(
            slug, parse_moment("start", start), parse_moment("end", end), now()
        )
        return [availability_out(r) for r in results]
