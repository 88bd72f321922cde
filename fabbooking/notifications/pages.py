"""The pages of e-mail: « Mes e-mails » (my address, its proof, which messages I get), the
link that proves an address, and the outbox for the network's admins (/manage/outbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Template

from fabbooking import database
from fabbooking.accounts.tables import Account
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.notifications import addresses
from fabbooking.notifications.kinds import KINDS, OPTIONAL_KINDS
from fabbooking.notifications.sending import MAX_ATTEMPTS
from fabbooking.notifications.tables import Outbox
from fabbooking.web.guards import signed_in
from fabbooking.web.i18n import _
from fabbooking.web.rendering import go, page, refusal_text

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
OUTBOX_SHOWN = 200
MAX_ADDRESS = 255


def _address_problem(address: str) -> str:
    """Empty when ``address`` looks like an e-mail address; else what to write instead."""
    local, at, domain = address.partition("@")
    if len(address) > MAX_ADDRESS or not (local and at and "." in domain.strip(".")) or any(
            c.isspace() or c in "<>,;\"" for c in address):
        return _("Cette adresse e-mail n'est pas complète. Écrivez-la comme prenom@exemple.fr.")
    return ""


async def _mine(request: Request, *, status: int = 200, error: str = "", done: str = "",
                address: str | None = None) -> Template:
    viewer = signed_in(request)
    account = await Account.select(Account.email).where(Account.id == viewer.account_id).first()
    return page(request, "notifications/mine.html", status=status, error=error, done=done,
                email=account["email"] if account else None, address=address,
                reach=await addresses.reach(viewer.account_id), kinds=OPTIONAL_KINDS,
                choices=await addresses.choices(viewer.account_id))


class EmailPages(Controller):
    include_in_schema = False

    @get("/me/notifications")
    async def mine(self, request: Request, done: FromQuery[str] = "") -> Template:
        return await _mine(request, done=done)

    @post("/me/notifications/address")
    async def change_address(self, request: Request, data: Form) -> Response | Template:
        """Give, change or remove one's address; a new address gets the link that proves it."""
        viewer = signed_in(request)
        address = data.get("email", "").strip().lower()
        problem = _address_problem(address) if address else ""
        if problem:
            return await _mine(request, status=422, error=problem, address=data.get("email", "")[:300])
        try:
            async with database.write_transaction():
                await Account.update({Account.email: address or None}).where(Account.id == viewer.account_id)
                if address:
                    await addresses.ask_for_proof(viewer.account_id, datetime.now(UTC))
        except Exception as exc:
            if is_unique_violation(exc):
                return await _mine(request, status=409, address=address, error=refusal_text(
                    request, Refused("email_taken")))
            raise
        return go(request, "/me/notifications?done=" + ("sent" if address else "removed"))

    @post("/me/notifications/proof")
    async def send_proof_again(self, request: Request) -> Response:
        viewer = signed_in(request)
        async with database.write_transaction():
            sent = await addresses.ask_for_proof(viewer.account_id, datetime.now(UTC))
        return go(request, "/me/notifications" + ("?done=sent" if sent else ""))

    @post("/me/notifications/choices")
    async def change_choices(self, request: Request, data: Form) -> Response:
        viewer = signed_in(request)
        wanted = {k.name for k in OPTIONAL_KINDS if data.get(k.name) == "on"}
        async with database.write_transaction():
            await addresses.set_choices(viewer.account_id, wanted)
        return go(request, "/me/notifications?done=choices")

    @get("/me/notifications/verify")
    async def verify(self, request: Request, t: FromQuery[str] = "") -> Template:
        """The link of the e-mail: works signed in or not (the link itself is the proof)."""
        try:
            await addresses.prove(t[:1000], datetime.now(UTC))
        except Refused as refused:
            return page(request, "notifications/verified.html", status=refused.status,
                        error=refusal_text(request, refused))
        return page(request, "notifications/verified.html", error="")


def _state(row: dict[str, Any]) -> str:
    if row["sent_at"] is not None:
        return "sent"
    if row["attempts"] >= MAX_ATTEMPTS:
        return "given_up"
    return "retrying" if row["attempts"] else "waiting"


class OutboxPage(Controller):
    include_in_schema = False

    @get("/manage/outbox")
    async def outbox(self, request: Request) -> Template:
        from fabbooking.web.manage import admin_viewer

        admin_viewer(request)
        rows = await Outbox.select(
            Outbox.id, Outbox.address, Outbox.kind, Outbox.language, Outbox.created_at, Outbox.attempts,
            Outbox.next_try_at, Outbox.sent_at, Outbox.last_error,
            Outbox.account.username.as_alias("username"),
        ).order_by(Outbox.id, ascending=False).limit(OUTBOX_SHOWN)
        messages = [{**r, "state": _state(r)} for r in rows]
        return page(request, "notifications/outbox.html", messages=messages, shown=OUTBOX_SHOWN,
                    labels={k.name: k.label for k in KINDS.values()})
