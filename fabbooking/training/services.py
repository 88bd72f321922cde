"""Trainings and the qualifications makers earn: granted at one site, valid at every site."""

from __future__ import annotations

from datetime import date
from typing import Any

from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.rules import HeldQualification
from fabbooking.errors import Refused, is_unique_violation
from fabbooking.network.tables import MachineKind, Site
from fabbooking.prepared import Prepared
from fabbooking.references.kept import Kept
from fabbooking.training.tables import Qualification, Training

KINDS = {k.value for k in MachineKind}


async def list_trainings() -> list[dict[str, Any]]:
    return await Training.select().order_by(Training.name)


async def create_training(
    viewer: Viewer, slug: str, name: str, description: str, unlocks_kinds: list[str]
) -> dict[str, Any]:
    if not viewer.is_staff_anywhere:
        raise Refused("forbidden")
    unknown = [k for k in unlocks_kinds if k not in KINDS]
    if unknown:
        raise Refused("invalid_input", problems=f"type de machine inconnu : {', '.join(unknown)}",
                      problems_en=f"unknown machine kind: {', '.join(unknown)}")
    try:
        await Training.insert(Training(slug=slug, name=name.strip(), description=description,
                                       unlocks_kinds=list(unlocks_kinds)))
    except Exception as exc:
        if is_unique_violation(exc):
            raise Refused("slug_taken", slug=slug) from None
        raise
    return await Training.select().where(Training.slug == slug).first()


async def grant_qualification(
    viewer: Viewer,
    maker_id: int,
    training_id: int,
    expires_on: date | None,
    today: date,
    site_slug: str = "",
) -> dict[str, Any]:
    """An animator (of any site) or an admin validates a training for a person."""
    if not viewer.is_staff_anywhere:
        raise Refused("forbidden")
    if not await Account.exists().where(Account.id == maker_id):
        raise Refused.not_found(f"la personne n° {maker_id}", f"person #{maker_id}")
    if not await Training.exists().where(Training.id == training_id):
        raise Refused.not_found(f"la formation n° {training_id}", f"training #{training_id}")
    if expires_on is not None and expires_on < today:
        raise Refused("invalid_input", problems="la date d'expiration est déjà passée",
                      problems_en="the expiry date is already past")
    if site_slug and not await Site.exists().where(Site.slug == site_slug):
        raise Refused.not_found(f"le lieu « {site_slug} »", f"the place “{site_slug}”")
    rows = await Qualification.insert(
        Qualification(account=maker_id, training=training_id, granted_on=today,
                      granted_by=viewer.account_id, granted_at_site=site_slug,
                      expires_on=expires_on)
    ).returning(Qualification.id)
    return await qualification(rows[0]["id"])


QUALIFICATION_COLUMNS = (
    Qualification.all_columns(),
    Qualification.training.name.as_alias("training_name"),
    Qualification.training.slug.as_alias("training_slug"),
)


async def qualification(qualification_id: int) -> dict[str, Any]:
    return await Qualification.select(*QUALIFICATION_COLUMNS).where(
        Qualification.id == qualification_id
    ).first()


async def qualifications_of(account_id: int) -> list[dict[str, Any]]:
    return (await qualifications_of_many([account_id])).get(account_id, [])


async def qualifications_of_many(account_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each account's qualifications, newest first, in one query."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not account_ids:
        return found
    rows = await Qualification.select(*QUALIFICATION_COLUMNS).where(
        Qualification.account.is_in(list(account_ids))
    ).order_by(Qualification.granted_on, ascending=False).order_by(Qualification.id, ascending=False)
    for row in rows:
        found.setdefault(row["account"], []).append(row)
    return found


_HELD = Prepared(lambda account_id: Qualification.select(
    Qualification.training.as_alias("training_id"),
    Qualification.training.name.as_alias("training_name"),
    Qualification.training.unlocks_kinds.as_alias("unlocks_kinds"),
    Qualification.expires_on,
).where(Qualification.account == account_id))


# kept between requests while no qualification or training is written (references.kept)
_KEPT_HELD: Kept[tuple[HeldQualification, ...]] = Kept(("qualification", "training"))


async def held_qualifications(account_id: int, counters: dict[str, int] | None = None,
                              ) -> tuple[HeldQualification, ...]:
    """Every qualification the account holds, expired ones included (the rules say which
    count). ``counters``: see Kept.get."""
    async def read() -> tuple[HeldQualification, ...]:
        return tuple(
            HeldQualification(
                training_id=r["training_id"],
                training_name=r["training_name"],
                unlocks_kinds=tuple(r["unlocks_kinds"] or ()),
                expires_on=r["expires_on"],
            )
            for r in await _HELD.rows(account_id=account_id)
        )

    return await _KEPT_HELD.get(account_id, read, counters) or ()
