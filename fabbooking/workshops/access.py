"""Which workshop a person may see, and which they may change: read by the planning,
logging and registration services alike. A private workshop is « not found » for whoever
may not see it; a public one is « not of your site » for another site's team."""

from __future__ import annotations

from typing import Any

from fabbooking.accounts.viewer import Viewer
from fabbooking.errors import Refused
from fabbooking.ids import is_id
from fabbooking.workshops import rules
from fabbooking.workshops.tables import Registration, Workshop

WORKSHOP_COLUMNS = (
    Workshop.all_columns(),
    Workshop.site.slug.as_alias("site_slug"),
    Workshop.site.name.as_alias("site_name"),
    Workshop.site.timezone.as_alias("site_timezone"),
)


def workshop_not_found(workshop_id: int) -> Refused:
    return Refused.not_found(f"l'atelier n° {workshop_id}", f"workshop #{workshop_id}")


def raise_if(refusal: rules.Refusal | None) -> None:
    if refusal:
        raise Refused.because(refusal)


async def workshop_row(workshop_id: int) -> dict[str, Any] | None:
    if not is_id(workshop_id):
        return None
    return await Workshop.select(*WORKSHOP_COLUMNS).where(Workshop.id == workshop_id).first()


async def has_registration(viewer: Viewer, workshop_id: int) -> bool:
    return viewer.is_authenticated and await Registration.exists().where(
        (Registration.workshop == workshop_id) & (Registration.account == viewer.account_id))


async def visible_row(viewer: Viewer, workshop_id: int) -> dict[str, Any]:
    """The workshop, if the viewer may see it: public, of their site, or registered to."""
    row = await workshop_row(workshop_id)
    if row is None:
        raise workshop_not_found(workshop_id)
    if row["public"] or viewer.is_staff_of(row["site"]) or await has_registration(viewer, workshop_id):
        return row
    raise workshop_not_found(workshop_id)


async def row_for_staff(viewer: Viewer, workshop_id: int) -> dict[str, Any]:
    """The workshop, for its site's team only: others get 404 (private) or 403 (public)."""
    if not viewer.is_authenticated:
        raise Refused("not_authenticated")
    row = await visible_row(viewer, workshop_id)
    if not viewer.is_staff_of(row["site"]):
        raise Refused("not_staff_of_site")
    return row
