"""The waiting list in the API: a maker's own wishes, and nobody else's."""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from fabbooking.api.auth import CurrentViewer
from fabbooking.api.errors import error_responses
from fabbooking.api.moments import now
from fabbooking.waiting import services
from fabbooking.waiting.schemas import WishIn, WishOut


def wish_out(row: dict[str, Any]) -> WishOut:
    return WishOut(id=row["id"], site=row["site_slug"], site_name=row["site_name"], machine_id=row["machine"],
                   machine_name=row["machine_name"], kind=row["machine_kind"], start=row["start_at"],
                   end=row["end_at"], created_at=row["created_at"], told_at=row["told_at"])


class WaitingListController(Controller):
    path = "/waiting-list"
    tags = ["waiting list"]

    @post("/", status_code=201, responses=error_responses(401, 404, 409, 422))
    async def ask(self, data: JSONBody[WishIn], viewer: CurrentViewer) -> WishOut:
        """Ask to be told, once, by e-mail, when a slot frees up on `machine_id` (or on any
        machine of `kind` at `site`) on `day` between `start` and `end` (the site's local
        times). The slot is not held: whoever books first gets it."""
        wish = services.Wish(day=data.day, start=time.fromisoformat(data.start), end=time.fromisoformat(data.end),
                             site_slug=data.site, machine_id=data.machine_id, kind=data.kind)
        return wish_out(await services.ask_to_be_told(viewer, wish, now()))

    @get("/", responses=error_responses(401))
    async def mine(self, viewer: CurrentViewer) -> list[WishOut]:
        """My wishes whose window is not over, soonest first (`told_at` set once I was told)."""
        return [wish_out(r) for r in await services.my_wishes(viewer, now())]

    @delete("/{wish_id:int}", status_code=204, responses=error_responses(401, 404))
    async def withdraw(self, wish_id: FromPath[int], viewer: CurrentViewer) -> None:
        """Stop being told (only my own wishes; another's is not found)."""
        await services.withdraw(viewer, wish_id)
