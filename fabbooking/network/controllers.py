from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, Parameter

from fabbooking.api.auth import CurrentViewer, require_login
from fabbooking.api.errors import error_responses
from fabbooking.bookings.rules import RULE_NAMES, BookingRules
from fabbooking.network import services
from fabbooking.network.schemas import (
    ClosureIn,
    ClosureOut,
    MachineIn,
    MachineKindName,
    MachineOut,
    MachinePatch,
    OpeningPeriodIO,
    RulesOut,
    SiteIn,
    SiteOut,
    SitePatch,
)


def given(struct: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent."""
    return {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not msgspec.UNSET}


def _rules_out(rules: BookingRules) -> RulesOut:
    return msgspec.convert(rules, RulesOut, from_attributes=True)


async def site_out(site: dict[str, Any]) -> SiteOut:
    opening = await services.opening_rows(site["id"])
    closures = await services.closure_rows(site["id"])
    return SiteOut(
        id=site["id"], slug=site["slug"], name=site["name"], kind=site["kind"],
        neighbourhood=site["neighbourhood"], address=site["address"],
        timezone=site["timezone"], description=site["description"],
        rules=_rules_out(BookingRules().overridden_by({n: site[n] for n in RULE_NAMES})),
        no_show_grace_minutes=site["no_show_grace_minutes"], reminder_hour=site["reminder_hour"],
        opening_hours=[OpeningPeriodIO(o["weekday"], o["opens"], o["closes"]) for o in opening],
        closures=[ClosureOut(c["id"], c["start_date"], c["end_date"], c["reason"]) for c in closures],
    )


def _closure_out(row: dict[str, Any]) -> ClosureOut:
    return ClosureOut(row["id"], row["start_date"], row["end_date"], row["reason"])


class SiteController(Controller):
    path = "/sites"
    tags = ["sites"]

    @get("/")
    async def list_sites(self) -> list[SiteOut]:
        """Every site of the network, with opening hours and closures."""
        return [await site_out(s) for s in await services.list_sites()]

    @get("/{slug:str}", responses=error_responses(404))
    async def get_site(self, slug: FromPath[str]) -> SiteOut:
        return await site_out(await services.get_site(slug))

    @post("/", status_code=201, responses=error_responses(401, 403, 409, 422))
    async def create_site(self, data: JSONBody[SiteIn], viewer: CurrentViewer) -> SiteOut:
        """Create a site (network admins)."""
        values = given(data)
        slug = values.pop("slug")
        return await site_out(await services.create_site(require_login(viewer), slug, values))

    @patch("/{slug:str}", responses=error_responses(401, 403, 404, 422))
    async def update_site(self, slug: FromPath[str], data: JSONBody[SitePatch], viewer: CurrentViewer) -> SiteOut:
        """Change a site and its default booking rules (its animators, admins)."""
        return await site_out(await services.update_site(require_login(viewer), slug, given(data)))

    @put("/{slug:str}/opening-hours", responses=error_responses(401, 403, 404, 422))
    async def replace_opening_hours(
        self, slug: FromPath[str], data: JSONBody[list[OpeningPeriodIO]], viewer: CurrentViewer
    ) -> list[OpeningPeriodIO]:
        """Replace the weekly opening hours (local time of the site; several periods a day allowed)."""
        rows = await services.replace_opening_hours(
            require_login(viewer), slug, [(p.weekday, p.opens, p.closes) for p in data]
        )
        return [OpeningPeriodIO(r["weekday"], r["opens"], r["closes"]) for r in rows]

    @post("/{slug:str}/closures", status_code=201, responses=error_responses(401, 403, 404, 422))
    async def add_closure(self, slug: FromPath[str], data: JSONBody[ClosureIn], viewer: CurrentViewer) -> ClosureOut:
        """Close the site from one date to another, both included."""
        row = await services.add_closure(
            require_login(viewer), slug, data.start_date, data.end_date, data.reason
        )
        return _closure_out(row)

    @delete("/{slug:str}/closures/{closure_id:int}", status_code=204,
            responses=error_responses(401, 403, 404))
    async def remove_closure(self, slug: FromPath[str], closure_id: FromPath[int], viewer: CurrentViewer) -> None:
        await services.remove_closure(require_login(viewer), slug, closure_id)


def machine_out(row: dict[str, Any], site_rules: BookingRules | None = None) -> MachineOut:
    overrides = {n: row[n] for n in RULE_NAMES if row[n] is not None}
    specs = row["specs"]
    return MachineOut(
        id=row["id"], slug=row["slug"], name=row["name"], kind=row["kind"],
        status=row["status"], site=row["site_slug"], description=row["description"],
        specs=json.loads(specs) if isinstance(specs, str) else (specs or {}),
        required_training_id=row["required_training"],
        required_training_name=row["required_training_name"],
        rules=_rules_out((site_rules or BookingRules()).overridden_by(overrides)),
        rule_overrides=overrides,
    )


async def machine_out_with_rules(row: dict[str, Any]) -> MachineOut:
    place = await services.machine_place(row["id"])
    return machine_out(row, place.facts.rules)


def _machine_values(data: JSONBody[MachinePatch]) -> dict[str, Any]:
    values = given(data)
    if "required_training_id" in values:
        values["required_training"] = values.pop("required_training_id")
    if "rules" in values:
        values.update(given(values.pop("rules")))
    return values


class MachineController(Controller):
    path = "/machines"
    tags = ["machines"]

    @get("/", responses=error_responses(404, 422))
    async def list_machines(
        self,
        site: str | None = Parameter(default=None, description="Site slug"),
        kind: MachineKindName | None = Parameter(default=None),
    ) -> list[MachineOut]:
        """Machines of the network, optionally of one site and/or one kind."""
        rows = await services.list_machines(site, kind)
        rules = await services.site_rules([r["site"] for r in rows])
        return [machine_out(r, rules[r["site"]]) for r in rows]

    @get("/{machine_id:int}", responses=error_responses(404))
    async def get_machine(self, machine_id: FromPath[int]) -> MachineOut:
        return await machine_out_with_rules(await services.get_machine(machine_id))

    @post("/", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
    async def create_machine(self, data: JSONBody[MachineIn], viewer: CurrentViewer) -> MachineOut:
        """Add a machine to a site (its animators, admins)."""
        values = _machine_values(data)
        site, slug = values.pop("site"), values.pop("slug")
        row = await services.create_machine(require_login(viewer), site, slug, values)
        return await machine_out_with_rules(row)

    @patch("/{machine_id:int}", responses=error_responses(401, 403, 404, 422))
    async def update_machine(self, machine_id: FromPath[int], data: JSONBody[MachinePatch], viewer: CurrentViewer) -> MachineOut:
        """Change a machine: status (maintenance, out of order), training, rules…"""
        row = await services.update_machine(require_login(viewer), machine_id, _machine_values(data))
        return await machine_out_with_rules(row)
