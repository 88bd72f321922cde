"""The waiting list for machines: a maker asks to be told when a machine (or any machine of
a kind at a site) frees up during a window of a day; a cancellation or a no-show release
that opens a matching slot tells every maker waiting for it, in the order they asked. The
slot is not held: the first to book it gets it, and the message says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fabbooking import database
from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused
from fabbooking.network.services import get_site, machine_not_found, zone
from fabbooking.network.tables import Machine, MachineKind, MachineStatus
from fabbooking.notifications.outbox import Notice, enqueue
from fabbooking.waiting.tables import MachineWish

KIND = "slot_freed"  # declared with the other kinds (notifications/kinds.py): « Mon compte » lists it

MAX_OPEN_WISHES = 20  # per maker: enough for a busy month, not a flood of messages
KINDS = tuple(k.value for k in MachineKind)


@dataclass(frozen=True)
class Wish:
    """What the maker asked for: ``machine_id``, or ``kind`` at ``site_slug``; on ``day``
    from ``start`` to ``end``, in the site's timezone."""

    day: date
    start: time
    end: time
    site_slug: str | None = None
    machine_id: int | None = None
    kind: str | None = None


def _wish_not_found(wish_id: int) -> Refused:
    return Refused.not_found(f"la demande n° {wish_id}", f"request #{wish_id}")


async def _where(wish: Wish) -> dict[str, Any]:
    """The site (id, timezone) and the machine or kind the wish is for; unknown ones refused."""
    if wish.machine_id is not None:
        machine = await Machine.select(
            Machine.id, Machine.kind, Machine.site, Machine.site.slug.as_alias("site_slug"),
            Machine.site.timezone.as_alias("timezone"),
        ).where(Machine.id == wish.machine_id).first()
        if machine is None:
            raise machine_not_found(wish.machine_id)
        if wish.site_slug and wish.site_slug != machine["site_slug"]:
            raise Refused("wish_machine_elsewhere", site=wish.site_slug)
        return {"site": machine["site"], "timezone": machine["timezone"], "machine": machine["id"], "kind": None}
    if not wish.site_slug or not wish.kind:
        raise Refused("wish_needs_machine_or_kind")
    if wish.kind not in KINDS:
        raise Refused("wish_unknown_kind", kind=wish.kind, kinds=", ".join(KINDS))
    site = await get_site(wish.site_slug)
    return {"site": site["id"], "timezone": site["timezone"], "machine": None, "kind": wish.kind}


async def ask_to_be_told(viewer: Viewer, wish: Wish, now: datetime) -> dict[str, Any]:
    """Write the maker's wish; refuse a reversed or past window, an unknown place."""
    if viewer.account_id is None:
        raise Refused("not_authenticated")
    if wish.end <= wish.start:
        raise Refused("invalid_range")
    where = await _where(wish)
    tz = zone(where["timezone"])
    start_at = datetime.combine(wish.day, wish.start, tz)
    end_at = datetime.combine(wish.day, wish.end, tz)
    if end_at <= now:
        raise Refused("in_the_past")
    async with database.write_transaction():
        open_wishes = await MachineWish.count().where(
            (MachineWish.maker == viewer.account_id) & MachineWish.told_at.is_null() & (MachineWish.end_at > now))
        if open_wishes >= MAX_OPEN_WISHES:
            raise Refused("too_many_wishes", status=409, count=MAX_OPEN_WISHES)
        row = (await MachineWish.insert(MachineWish(
            maker=viewer.account_id, site=where["site"], machine=where["machine"], machine_kind=where["kind"],
            start_at=max(start_at, now), end_at=end_at, created_at=now,
        )).returning(MachineWish.id))[0]
    return (await my_wishes(viewer, now, wish_id=row["id"]))[0]


async def my_wishes(viewer: Viewer, now: datetime, wish_id: int | None = None) -> list[dict[str, Any]]:
    """The maker's wishes whose window is not over, soonest first (told ones too: they say so)."""
    if viewer.account_id is None:
        raise Refused("not_authenticated")
    query = MachineWish.select(
        MachineWish.id, MachineWish.machine, MachineWish.machine_kind, MachineWish.start_at, MachineWish.end_at,
        MachineWish.created_at, MachineWish.told_at, MachineWish.machine.name.as_alias("machine_name"),
        MachineWish.site.slug.as_alias("site_slug"), MachineWish.site.name.as_alias("site_name"),
        MachineWish.site.timezone.as_alias("timezone"),
    ).where((MachineWish.maker == viewer.account_id) & (MachineWish.end_at > now)).order_by(MachineWish.start_at)
    if wish_id is not None:
        query = query.where(MachineWish.id == wish_id)
    return await query


async def withdraw(viewer: Viewer, wish_id: int) -> None:
    """« Ne plus me prévenir »: delete one of the maker's own wishes; another's is not found."""
    if viewer.account_id is None:
        raise Refused("not_authenticated")
    deleted = await MachineWish.delete().where(
        (MachineWish.id == wish_id) & (MachineWish.maker == viewer.account_id)).returning(MachineWish.id)
    if not deleted:
        raise _wish_not_found(wish_id)


def _on_grid(moment: datetime, minutes: int) -> datetime:
    """The first slot boundary at or after ``moment`` (a no-show frees the rest of a slot)."""
    step = timedelta(minutes=minutes)
    since_midnight = moment - moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment + (-since_midnight) % step


async def on_slot_freed(machine_id: int, start: datetime, end: datetime, now: datetime) -> int:
    """Tell, once, every maker waiting for this machine (or its kind at its site) during
    [start, end); call it in the transaction that freed the slot. Returns how many were told.
    One statement when nobody waits for this time."""
    start = max(start, now)
    if end <= start:
        return 0
    waiting = await MachineWish.select(
        MachineWish.id, MachineWish.site, MachineWish.machine, MachineWish.machine_kind,
    ).where(
        MachineWish.told_at.is_null() & (MachineWish.end_at > start) & (MachineWish.start_at < end)
        & ((MachineWish.machine == machine_id) | MachineWish.machine.is_null()))
    if not waiting:
        return 0
    machine = await Machine.select(
        Machine.id, Machine.name, Machine.kind, Machine.site, Machine.status, Machine.slot_minutes,
        Machine.site.slot_minutes.as_alias("site_slot_minutes"), Machine.site.name.as_alias("site_name"),
        Machine.site.timezone.as_alias("timezone"),
    ).where(Machine.id == machine_id).first()
    if machine is None or machine["status"] != MachineStatus.available.value:
        return 0
    ids = [w["id"] for w in waiting if w["machine"] == machine_id
           or (w["site"] == machine["site"] and w["machine_kind"] == machine["kind"])]
    if not ids:
        return 0
    # told once, even when two processes free overlapping slots at the same moment
    told = await MachineWish.update({MachineWish.told_at: now}).where(
        MachineWish.id.is_in(ids) & MachineWish.told_at.is_null()
    ).returning(MachineWish.id, MachineWish.maker, MachineWish.start_at, MachineWish.created_at)
    step = machine["slot_minutes"] or machine["site_slot_minutes"] or 15
    slot = _on_grid(start, step)
    notices = []
    for wish in sorted(told, key=lambda w: (w["created_at"], w["id"])):
        first = max(slot, _on_grid(wish["start_at"], step))
        if first >= end:
            continue
        notices.append(Notice(wish["maker"], KIND, {
            "machine": machine["name"], "site": machine["site_name"], "timezone": machine["timezone"],
            "start_at": first, "end_at": end, "machine_id": machine_id,
            "book_path": f"/machines/{machine_id}/book?start={quote(first.isoformat(), safe='')}",
        }, key=f"{KIND}:{wish['id']}"))
    return await enqueue(*notices)

