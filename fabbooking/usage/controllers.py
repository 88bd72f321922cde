from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from fabbooking.api.auth import CurrentViewer, require_login
from fabbooking.api.errors import error_responses
from fabbooking.api.moments import MOMENT_SCHEMA, now, parse_moment
from fabbooking.errors import Refused
from fabbooking.usage import services
from fabbooking.usage.schemas import (
    DeadLetterOut,
    DeadLettersOut,
    GatewayIn,
    GatewayOut,
    MachineStatusOut,
    MaintenancePlanIn,
    MaintenancePlanOut,
    RunningJob,
    TelemetryIn,
    TelemetryOut,
    UsageSessionOut,
)


def session_out(row: dict) -> UsageSessionOut:
    return UsageSessionOut(
        id=row["id"], machine_id=row["machine"], machine_name=row["machine_name"], site=row["site_slug"],
        job_key=row["job_key"], started_at=row["started_at"], ended_at=row["ended_at"],
        duration_s=row["duration_s"], outcome=row["outcome"], energy_wh=row["energy_wh"],
        material_kind=row["material_kind"], material_grams=row["material_grams"],
        material_length_mm=row["material_length_mm"], file_name=row["file_name"], booking_id=row["booking"],
        maker_id=row["maker_id"], maker_username=row["maker_username"], walk_in=row["walk_in"],
        overrun=row["overrun"])


def telemetry_out(row: dict) -> TelemetryOut:
    return TelemetryOut(machine_id=row["machine"], format=row["format"], gateway=row["gateway_ident"],
                        device_topic=row["device_topic"], start_w=row["start_w"], idle_w=row["idle_w"],
                        start_after_s=row["start_after_s"], stop_after_s=row["stop_after_s"])


def gateway_out(row: dict, password: str | None = None) -> GatewayOut:
    return GatewayOut(ident=row["ident"], site=row["site_slug"], name=row["name"], state=row["state"],
                      last_seen=row["last_seen_at"], mqtt_password=password)


def plan_out(row: dict) -> MaintenancePlanOut:
    return MaintenancePlanOut(id=row["id"], machine_id=row["machine"], task=row["task"],
                              every_hours=row["every_hours"], done_at=row["done_at"],
                              hours_since=row["hours_since"], due=row["due"])


Moment = Annotated[str, QueryParameter(description="ISO 8601 with an offset, e.g. 2026-03-14T09:00:00+01:00",
                                      schema_extra=MOMENT_SCHEMA)]


def _range(start: str, end: str):
    begin, finish = parse_moment("start", start), parse_moment("end", end)
    if finish <= begin:
        raise Refused("invalid_range")
    return begin, finish


class MachineUsageController(Controller):
    path = "/machines/{machine_id:int}"
    tags = ["usage"]

    @get("/status", responses=error_responses(404))
    async def status(self, machine_id: FromPath[int]) -> MachineStatusOut:
        """Live state (offline, idle, busy, error) from the machine's own reports, and its counters."""
        row = await services.machine_status(machine_id)
        job = row["running_job"]
        return MachineStatusOut(
            machine_id=machine_id, reports_usage=row["reports_usage"], state=row["state"],
            last_seen=row["last_seen"], power_w=row["power_w"],
            running_job=RunningJob(job["job_key"], job["started_at"], job["file_name"]) if job else None,
            run_hours=row["run_hours"], jobs=row["jobs"])

    @get("/usage", responses=error_responses(401, 404, 422))
    async def usage(self, machine_id: FromPath[int], viewer: CurrentViewer, start: Moment,
                    end: Moment) -> list[UsageSessionOut]:
        """Usage sessions started in [start, end): all for the site's team, one's own for a maker."""
        begin, finish = _range(start, end)
        return [session_out(r) for r in await services.machine_usage(viewer, machine_id, begin, finish)]

    @get("/telemetry", responses=error_responses(401, 403, 404))
    async def telemetry(self, machine_id: FromPath[int], viewer: CurrentViewer) -> TelemetryOut | None:
        """How the machine reports its use (format, gateway, device topic, power thresholds):
        the site's animators, admins."""
        row = await services.telemetry_for_staff(viewer, machine_id)
        return telemetry_out(row) if row else None

    @put("/telemetry", responses=error_responses(401, 403, 404, 422))
    async def set_telemetry(self, machine_id: FromPath[int], data: JSONBody[TelemetryIn],
                            viewer: CurrentViewer) -> TelemetryOut:
        """Set how the machine reports its use (the site's animators, admins)."""
        from fabbooking.network.controllers import given

        return telemetry_out(await services.set_telemetry(require_login(viewer), machine_id, given(data)))

    @delete("/telemetry", status_code=204, responses=error_responses(401, 403, 404))
    async def remove_telemetry(self, machine_id: FromPath[int], viewer: CurrentViewer) -> None:
        await services.remove_telemetry(require_login(viewer), machine_id)

    @get("/maintenance-plans", responses=error_responses(401, 403, 404))
    async def maintenance_plans(self, machine_id: FromPath[int], viewer: CurrentViewer) -> list[MaintenancePlanOut]:
        """The machine's maintenance plans and whether they are due: the site's animators, admins."""
        return [plan_out(p) for p in await services.plans_for_staff(viewer, machine_id)]

    @post("/maintenance-plans", status_code=201, responses=error_responses(401, 403, 404, 422))
    async def add_maintenance_plan(self, machine_id: FromPath[int], data: JSONBody[MaintenancePlanIn],
                                   viewer: CurrentViewer) -> MaintenancePlanOut:
        """« Clean the lens every 20 h of use »: due when the machine has run that long since."""
        return plan_out(await services.add_plan(require_login(viewer), machine_id, data.task, data.every_hours, now()))


class UsageController(Controller):
    path = "/"
    tags = ["usage"]

    @get("/usage", responses=error_responses(401, 403, 404, 422))
    async def usage(self, viewer: CurrentViewer, start: Moment, end: Moment,
                    site: FromQuery[str | None] = None) -> list[UsageSessionOut]:
        """Usage sessions of a site (its animators) or of the whole network (admins)."""
        begin, finish = _range(start, end)
        return [session_out(r) for r in await services.site_usage(viewer, site, begin, finish)]

    @post("/maintenance-plans/{plan_id:int}/done", responses=error_responses(401, 403, 404))
    async def maintenance_done(self, plan_id: FromPath[int], viewer: CurrentViewer) -> MaintenancePlanOut:
        return plan_out(await services.mark_done(require_login(viewer), plan_id, now()))

    @get("/gateways", responses=error_responses(401, 403))
    async def gateways(self, viewer: CurrentViewer) -> list[GatewayOut]:
        """Gateways of the sites I run (admins: all)."""
        return [gateway_out(g) for g in await services.list_gateways(require_login(viewer))]

    @post("/gateways", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
    async def create_gateway(self, data: JSONBody[GatewayIn], viewer: CurrentViewer) -> GatewayOut:
        """Register a gateway; the answer holds its MQTT password, shown only this once."""
        row, password = await services.create_gateway(require_login(viewer), data.site, data.ident, data.name)
        return gateway_out(row, password)

    @get("/dead-letters", responses=error_responses(401, 403))
    async def dead_letters(self, viewer: CurrentViewer) -> DeadLettersOut:
        """MQTT messages that could not be used, with the reason (admins)."""
        total, rows = await services.dead_letters(require_login(viewer))
        return DeadLettersOut(total=total, latest=[DeadLetterOut(r["id"], r["received_at"], r["topic"],
                                                                 r["reason"], r["size"]) for r in rows])
