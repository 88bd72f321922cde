"""Machine usage for people and scripts: gateways, telemetry settings, live status, usage
sessions, dead letters, maintenance plans. Permissions are checked here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum

from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.network.services import get_machine, get_site, require_staff
from fabbooking.usage import directory
from fabbooking.usage.contract import valid_segment
from fabbooking.usage.mosquitto import new_password, password_hash
from fabbooking.usage.routing import DECODERS, device_topic_problem
from fabbooking.usage.tables import (
    DeadLetter,
    DeviceFormat,
    Gateway,
    MachineLive,
    MaintenancePlan,
    Telemetry,
    UsageSession,
)

TELEMETRY_FIELDS = ("format", "gateway", "device_topic", "start_w", "idle_w", "start_after_s", "stop_after_s")
SESSION_COLUMNS = (
    UsageSession.all_columns(exclude=[UsageSession.key]),
    UsageSession.machine.name.as_alias("machine_name"),
    UsageSession.machine.site.slug.as_alias("site_slug"),
    UsageSession.booking.maker.as_alias("maker_id"),
    UsageSession.booking.maker.username.as_alias("maker_username"),
)


# --- gateways --------------------------------------------------------------------------

async def create_gateway(viewer: Viewer | None, site_slug: str, ident: str, name: str = "") -> tuple[dict, str]:
    """Register a gateway; returns it and its new MQTT password (shown once)."""
    site = await get_site(site_slug)
    if viewer is not None:
        require_staff(viewer, site["id"])
    if not valid_segment(ident):
        raise Refused("invalid_input", problems="l'identifiant de passerelle : lettres minuscules, chiffres, - et _",
                      problems_en="gateway id: lowercase letters, digits, - and _")
    password = new_password()
    try:
        await Gateway.insert(Gateway(ident=ident, site=site["id"], name=name or ident,
                                     mqtt_password_hash=password_hash(password)))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Refused("slug_taken", slug=ident) from None
        raise
    directory.forget()
    return await gateway(ident), password


async def gateway(ident: str) -> dict:
    row = await Gateway.select(Gateway.all_columns(exclude=[Gateway.mqtt_password_hash]),
                               Gateway.site.slug.as_alias("site_slug")).where(Gateway.ident == ident).first()
    if row is None:
        raise Refused.not_found(f"la passerelle « {ident} »", f"gateway “{ident}”")
    return row


async def list_gateways(viewer: Viewer | None = None) -> list[dict]:
    query = Gateway.select(Gateway.all_columns(exclude=[Gateway.mqtt_password_hash]),
                           Gateway.site.slug.as_alias("site_slug")).order_by(Gateway.ident)
    if viewer is not None and not viewer.is_admin:
        if not viewer.is_staff_anywhere:
            raise Refused("forbidden")
        query = query.where(Gateway.site.is_in(list(viewer.staff_site_ids)))
    return await query


# --- telemetry settings -----------------------------------------------------------------

async def telemetry_of(machine_id: int) -> dict | None:
    return await Telemetry.select(Telemetry.all_columns(), Telemetry.gateway.ident.as_alias("gateway_ident")).where(
        Telemetry.machine == machine_id).first()


async def telemetry_for_staff(viewer: Viewer, machine_id: int) -> dict | None:
    """How a machine reports its use — gateway id, device topic: for the site's team only."""
    require_staff(viewer, (await get_machine(machine_id))["site"])
    return await telemetry_of(machine_id)


async def plans_for_staff(viewer: Viewer, machine_id: int) -> list[dict]:
    """A machine's maintenance plans: for the site's team only, like the desk that shows them."""
    require_staff(viewer, (await get_machine(machine_id))["site"])
    return list((await plans([machine_id])).values())


async def set_telemetry(viewer: Viewer | None, machine_id: int, values: dict[str, Any]) -> dict:
    """Say how a machine reports its use. ``values["gateway"]`` is a gateway id (ident)."""
    machine = await get_machine(machine_id)
    if viewer is not None:
        require_staff(viewer, machine["site"])
    current = await telemetry_of(machine_id) or {}
    merged = {k: current.get(k) for k in TELEMETRY_FIELDS if k in current}
    merged.update({k: v for k, v in values.items() if k in TELEMETRY_FIELDS})
    fmt = merged.get("format") or DeviceFormat.contract.value
    if fmt not in {f.value for f in DeviceFormat}:
        raise Refused("invalid_input", problems=f"format inconnu « {fmt} »", problems_en=f"unknown format “{fmt}”")
    gateway_id = current.get("gateway")
    if "gateway" in values:
        gateway_id = None
        if values["gateway"]:
            found = await gateway(values["gateway"])
            if found["site"] != machine["site"]:
                raise Refused("invalid_input", problems="la passerelle appartient à un autre lieu",
                              problems_en="the gateway belongs to another place")
            gateway_id = found["id"]
    if fmt == "contract" and gateway_id is None:
        raise Refused("invalid_input", problems="une machine au format contract a besoin d'une passerelle",
                      problems_en="a contract machine needs a gateway")
    device_topic = (merged.get("device_topic") or "").strip()
    if fmt in DECODERS and not device_topic:
        raise Refused("invalid_input", problems=f"le format {fmt} a besoin du topic de l'appareil",
                      problems_en=f"the {fmt} format needs the device topic")
    if device_topic and device_topic_problem(device_topic):
        raise Refused("invalid_device_topic")
    start_w, idle_w = merged.get("start_w") or 50.0, merged.get("idle_w") or 20.0
    if idle_w >= start_w:
        raise Refused("invalid_input", problems="le seuil de repos doit être sous le seuil de démarrage",
                      problems_en="the idle threshold must be below the start threshold")
    row = {"format": fmt, "gateway": gateway_id, "device_topic": device_topic,
           "start_w": start_w, "idle_w": idle_w, "start_after_s": merged.get("start_after_s") or 30,
           "stop_after_s": merged.get("stop_after_s") or 120}
    if current:
        await Telemetry.update(row).where(Telemetry.machine == machine_id)
    else:
        await Telemetry.insert(Telemetry(machine=machine_id, **row))
    directory.forget()
    return await telemetry_of(machine_id)


async def remove_telemetry(viewer: Viewer, machine_id: int) -> None:
    machine = await get_machine(machine_id)
    require_staff(viewer, machine["site"])
    await Telemetry.delete().where(Telemetry.machine == machine_id)
    directory.forget()


# --- live status and counters -------------------------------------------------------------

async def machine_status(machine_id: int) -> dict:
    await get_machine(machine_id)
    telemetry = await telemetry_of(machine_id)
    live = await MachineLive.select(MachineLive.state, MachineLive.last_seen_at, MachineLive.power_w).where(
        MachineLive.machine == machine_id).first()
    running = await UsageSession.select(UsageSession.job_key, UsageSession.started_at, UsageSession.file_name).where(
        (UsageSession.machine == machine_id) & (UsageSession.outcome == "running")
    ).order_by(UsageSession.started_at, ascending=False).first()
    totals = await counters(machine_id)
    return {
        "machine_id": machine_id,
        "reports_usage": telemetry is not None,
        "state": (live or {}).get("state", "offline") if telemetry else "unknown",
        "last_seen": (live or {}).get("last_seen_at"),
        "power_w": (live or {}).get("power_w"),
        "running_job": running,
        **totals,
    }


async def live_states(machine_ids: list[int]) -> dict[int, str]:
    """State of every listed machine that reports its use (for badges on the pages)."""
    if not machine_ids:
        return {}
    ids = sorted(set(machine_ids))
    rows = await Telemetry.raw(
        "SELECT t.machine, l.state FROM telemetry AS t LEFT JOIN machine_live AS l ON l.machine = t.machine "
        f"WHERE t.machine IN ({', '.join('{}' for _ in ids)})", *ids)
    return {r["machine"]: r["state"] or "offline" for r in rows}


async def counters(machine_id: int, since: datetime | None = None) -> dict:
    query = UsageSession.select(Sum(UsageSession.duration_s, alias="seconds"), Count(alias="jobs")).where(
        (UsageSession.machine == machine_id) & (UsageSession.outcome != "running"))
    if since is not None:
        query = query.where(UsageSession.started_at >= since)
    totals = await query.first()
    return {"run_hours": round((totals["seconds"] or 0) / 3600, 2), "jobs": totals["jobs"]}


# --- usage sessions -------------------------------------------------------------------

async def machine_usage(viewer: Viewer, machine_id: int, start: datetime, end: datetime) -> list[dict]:
    """The machine's sessions: all of them for its site's team; a maker sees their own."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    machine = await get_machine(machine_id)
    query = UsageSession.select(*SESSION_COLUMNS).where(
        (UsageSession.machine == machine_id) & (UsageSession.started_at >= start) & (UsageSession.started_at < end)
    ).order_by(UsageSession.started_at)
    if not viewer.is_staff_of(machine["site"]):
        query = query.where(UsageSession.booking.maker == viewer.account_id)
    return await query


async def site_usage(viewer: Viewer, site_slug: str | None, start: datetime, end: datetime) -> list[dict]:
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    query = UsageSession.select(*SESSION_COLUMNS).where(
        (UsageSession.started_at >= start) & (UsageSession.started_at < end)).order_by(UsageSession.started_at)
    if site_slug:
        site = await get_site(site_slug)
        require_staff(viewer, site["id"])
        return await query.where(UsageSession.machine.site == site["id"])
    if not viewer.is_admin:
        raise Refused("forbidden")
    return await query


# --- dead letters ---------------------------------------------------------------------

async def dead_letters(viewer: Viewer, limit: int = 100) -> tuple[int, list[dict]]:
    if not viewer.is_admin:
        raise Refused("forbidden")
    rows = await DeadLetter.select(DeadLetter.id, DeadLetter.received_at, DeadLetter.topic, DeadLetter.reason,
                                   DeadLetter.size).order_by(DeadLetter.id, ascending=False).limit(limit)
    return await DeadLetter.count(), rows


# --- maintenance plans --------------------------------------------------------------------

async def add_plan(viewer: Viewer, machine_id: int, task: str, every_hours: float, now: datetime) -> dict:
    machine = await get_machine(machine_id)
    require_staff(viewer, machine["site"])
    if not task.strip() or every_hours <= 0:
        raise Refused("invalid_input", problems="une tâche et un nombre d'heures positif",
                      problems_en="a task and a positive number of hours")
    rows = await MaintenancePlan.insert(MaintenancePlan(machine=machine_id, task=task.strip()[:200],
                                                        every_hours=every_hours, done_at=now)).returning(MaintenancePlan.id)
    return (await plans([machine_id]))[rows[0]["id"]]


_RUN_SINCE_DONE = """SELECT p.id AS plan, COALESCE(SUM(s.duration_s), 0) AS seconds
    FROM maintenance_plan AS p LEFT JOIN usage_session AS s ON s.machine = p.machine
        AND s.outcome <> 'running' AND (p.done_at IS NULL OR s.started_at >= p.done_at)
    WHERE p.id IN ({ids}) GROUP BY p.id"""


async def plans(machine_ids: list[int] | None = None, site_id: int | None = None) -> dict[int, dict]:
    """Every plan of these machines (or of the site's), with the hours run since it was last
    done and whether it is due: two queries, whatever the number of plans."""
    where = (MaintenancePlan.machine.site == site_id if site_id is not None
             else MaintenancePlan.machine.is_in(machine_ids or [-1]))
    rows = await MaintenancePlan.select(MaintenancePlan.all_columns(),
                                        MaintenancePlan.machine.name.as_alias("machine_name"),
                                        MaintenancePlan.machine.site.as_alias("site_id")).where(where)
    if not rows:
        return {}
    ids = [r["id"] for r in rows]
    run = {r["plan"]: r["seconds"] for r in await MaintenancePlan.raw(
        _RUN_SINCE_DONE.format(ids=", ".join("{}" for _ in ids)), *ids)}
    result = {}
    for plan in rows:
        hours = round((run.get(plan["id"]) or 0) / 3600, 2)
        result[plan["id"]] = {**plan, "hours_since": hours, "due": hours >= plan["every_hours"]}
    return result


async def mark_done(viewer: Viewer, plan_id: int, now: datetime) -> dict:
    plan = await MaintenancePlan.select(MaintenancePlan.id, MaintenancePlan.machine.site.as_alias("site_id"),
                                        MaintenancePlan.machine).where(MaintenancePlan.id == plan_id).first()
    if plan is None:
        raise Refused.not_found(f"le plan de maintenance n° {plan_id}", f"maintenance plan #{plan_id}")
    require_staff(viewer, plan["site_id"])
    await MaintenancePlan.update({MaintenancePlan.done_at: now}).where(MaintenancePlan.id == plan_id)
    return (await plans([plan["machine"]]))[plan_id]


async def due_maintenance(site_id: int) -> list[dict]:
    return [p for p in (await plans(site_id=site_id)).values() if p["due"]]




async def walk_ins(site_id: int, since: datetime, until: datetime) -> list[dict]:
    """Sessions of the site's machines with no booking behind them, for the desk."""
    return await UsageSession.select(*SESSION_COLUMNS).where(
        (UsageSession.machine.site == site_id) & (UsageSession.walk_in == True)  # noqa: E712
        & (UsageSession.started_at >= since) & (UsageSession.started_at < until)
    ).order_by(UsageSession.started_at)
