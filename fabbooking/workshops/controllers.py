"""The workshops JSON API under /api/v1/workshops."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from fabbooking.accounts.viewer import Viewer
from fabbooking.api.auth import CurrentViewer
from fabbooking.api.errors import error_responses
from fabbooking.api.idempotency import IdempotencyKey, answer_once
from fabbooking.api.moments import OPTIONAL_MOMENT_SCHEMA, now, parse_moment
from fabbooking.workshops import registrations, services
from fabbooking.workshops.rules import HeadCount
from fabbooking.workshops.schemas import (
    AnimatorOut,
    AttendanceIn,
    HeadCountIn,
    HeadCountOut,
    LoggedWorkshopIn,
    MachineUsedOut,
    MyRegistrationOut,
    RegistrationIn,
    RegistrationOut,
    WorkshopIn,
    WorkshopOut,
    WorkshopPatch,
)

From = Annotated[str | None, QueryParameter(name="from", description="ISO 8601 with an offset; default: now",
                                            schema_extra=OPTIONAL_MOMENT_SCHEMA)]
To = Annotated[str | None, QueryParameter(name="to", description="ISO 8601 with an offset", schema_extra=OPTIONAL_MOMENT_SCHEMA)]
SiteSlug = Annotated[str | None, QueryParameter(description="Site slug")]


def workshop_out(viewer: Viewer, row: dict[str, Any]) -> WorkshopOut:
    staff = viewer.is_staff_of(row["site"])
    machines = row.get("machines")
    return WorkshopOut(
        id=row["id"], site=row["site_slug"], site_name=row["site_name"], title=row["title"],
        theme=row["theme"], description=row["description"], start=row["starts_at"],
        end=row["ends_at"], status=row["status"], public=row["public"],
        registration=row["registration"], capacity=row["capacity"],
        registered=row["registered"], waiting=row["waiting"], places_left=row["places_left"],
        machines=None if machines is None else [
            MachineUsedOut(m["machine"], m["name"], m["booking"] if staff else None)
            for m in machines],
        notes=row["notes"] if staff else None,
        animators=[AnimatorOut(a["account"], a["name"]) for a in row["animators"]]
        if staff and "animators" in row else None,
        attendance=[HeadCountOut(a["audience"], a["head_count"], a["first_timers"])
                    for a in row["attendance"]] if staff and "attendance" in row else None,
        series_id=row.get("series") if staff else None,
    )


def registration_out(viewer: Viewer, row: dict[str, Any], staff: bool) -> RegistrationOut:
    own = row["account"] is not None and row["account"] == viewer.account_id
    return RegistrationOut(
        id=row["id"], workshop_id=row["workshop"], status=row["status"],
        created_at=row["created_at"], cancelled_at=row["cancelled_at"],
        name=registrations.person_name(row) if staff or own else None,
        account_id=row["account"] if staff or own else None,
    )


def head_counts(items: list[HeadCountIn]) -> tuple[HeadCount, ...]:
    return tuple(HeadCount(i.audience, i.head_count, i.first_timers) for i in items)


class WorkshopController(Controller):
    path = "/workshops"
    tags = ["workshops"]

    @get("/", responses=error_responses(404, 422))
    async def list_workshops(
        self, viewer: CurrentViewer,
        site: SiteSlug = None, start: From = None, end: To = None,
    ) -> list[WorkshopOut]:
        """Workshops not over yet (or from `from` to `to`): public ones for everybody, every
        one of their sites for its team."""
        rows = await services.list_workshops(
            viewer, now(), site_slug=site,
            start=parse_moment("from", start) if start else None,
            end=parse_moment("to", end) if end else None)
        return [workshop_out(viewer, r) for r in rows]

    @post("/", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
    async def plan(self, data: JSONBody[WorkshopIn], viewer: CurrentViewer) -> WorkshopOut:
        """Plan a workshop (the site's team). Each machine is held through the booking rules;
        if one is refused (taken, closed…), nothing is written and `detail` says which
        machine and why (`workshop_machine_refused`, 409 when the slot is taken)."""
        draft = services.WorkshopDraft(
            title=data.title, starts_at=data.start, ends_at=data.end, theme=data.theme,
            description=data.description, public=data.public, registration=data.registration,
            capacity=data.capacity, notes=data.notes, animator_ids=tuple(data.animator_ids),
            machine_ids=tuple(data.machine_ids))
        return workshop_out(viewer, await services.plan_workshop(viewer, data.site, draft, now()))

    @post("/log", status_code=201, responses=error_responses(401, 403, 404, 422))
    async def log(self, data: JSONBody[LoggedWorkshopIn], viewer: CurrentViewer) -> WorkshopOut:
        """Log a workshop that took place, with its attendance (the site's team)."""
        draft = services.WorkshopDraft(
            title=data.title, starts_at=data.start, ends_at=data.end, theme=data.theme,
            description=data.description, public=False, notes=data.notes,
            animator_ids=tuple(data.animator_ids), machine_ids=tuple(data.machine_ids),
            attendance=head_counts(data.attendance))
        return workshop_out(viewer, await services.log_workshop(viewer, data.site, draft, now()))

    @get("/my-registrations", responses=error_responses(401))
    async def my_registrations(self, viewer: CurrentViewer) -> list[MyRegistrationOut]:
        """My own registrations and their workshops."""
        return [MyRegistrationOut(
            id=r["id"], workshop_id=r["workshop"], workshop_title=r["workshop_title"],
            site_name=r["site_name"], start=r["starts_at"], end=r["ends_at"],
            workshop_status=r["workshop_status"], status=r["status"],
        ) for r in await registrations.my_registrations(viewer)]

    @get("/{workshop_id:int}", responses=error_responses(404))
    async def get_workshop(self, workshop_id: FromPath[int], viewer: CurrentViewer) -> WorkshopOut:
        return workshop_out(viewer, await services.get_workshop(viewer, workshop_id))

    @patch("/{workshop_id:int}", responses=error_responses(401, 403, 404, 409, 422))
    async def update(self, workshop_id: FromPath[int], data: JSONBody[WorkshopPatch],
                     viewer: CurrentViewer) -> WorkshopOut:
        """Change a workshop (the site's team). New times or machines move the holds, all or
        nothing; a larger capacity gives places to the waiting list."""
        sent = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        renamed = {"start": "starts_at", "end": "ends_at"}
        changes = {renamed.get(k, k): tuple(v) if k.endswith("_ids") else v for k, v in sent.items()}
        return workshop_out(viewer, await services.update_workshop(viewer, workshop_id, changes, now()))

    @post("/{workshop_id:int}/cancel", status_code=200, responses=error_responses(401, 403, 404, 409, 422))
    async def cancel(self, workshop_id: FromPath[int], viewer: CurrentViewer) -> WorkshopOut:
        """Cancel a planned workshop: its machine holds and registrations are cancelled."""
        return workshop_out(viewer, await services.cancel_workshop(viewer, workshop_id, now()))

    @post("/{workshop_id:int}/attendance", status_code=200, responses=error_responses(401, 403, 404, 422))
    async def log_attendance(self, workshop_id: FromPath[int], data: JSONBody[AttendanceIn],
                             viewer: CurrentViewer) -> WorkshopOut:
        """Log (or correct) who came to a workshop that has begun; it is then done."""
        row = await services.log_attendance(
            viewer, workshop_id, head_counts(data.attendance), now(), notes=data.notes,
            machine_ids=tuple(data.machine_ids) if data.machine_ids is not None else None)
        return workshop_out(viewer, row)

    @get("/{workshop_id:int}/registrations", responses=error_responses(401, 403, 404))
    async def registrations(self, workshop_id: FromPath[int],
                            viewer: CurrentViewer) -> list[RegistrationOut]:
        """Everybody who asked for a place (the site's team only: names are personal)."""
        rows = await registrations.list_registrations(viewer, workshop_id)
        return [registration_out(viewer, r, staff=True) for r in rows]

    @post("/{workshop_id:int}/registrations", status_code=201,
          responses=error_responses(401, 403, 404, 409, 422))
    async def register(self, request: Request, workshop_id: FromPath[int], viewer: CurrentViewer,
                       data: JSONBody[RegistrationIn | None] = None,
                       idempotency_key: IdempotencyKey = None) -> Response[RegistrationOut]:
        """Register yourself; or, for the site's team, a person by `name` (no account
        needed). `status` is `registered`, or `waiting` when the workshop is full. Send an
        `Idempotency-Key` to retry safely."""
        name = data.name if data else None

        async def register() -> RegistrationOut:
            row = await registrations.register(viewer, workshop_id, now(), name=name)
            return registration_out(viewer, row, staff=name is not None)

        return await answer_once(request, viewer, idempotency_key, data, register, 201)

    @post("/{workshop_id:int}/registrations/{registration_id:int}/cancel", status_code=200,
          responses=error_responses(401, 404, 409, 422))
    async def cancel_registration(self, workshop_id: FromPath[int], registration_id: FromPath[int],
                                  viewer: CurrentViewer) -> RegistrationOut:
        """Cancel a registration: your own until the start, any for the site's team. The
        oldest person waiting gets the place."""
        row = await registrations.cancel_registration(viewer, workshop_id, registration_id, now())
        return registration_out(viewer, row, staff=True)
