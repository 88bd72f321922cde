"""Demo workshops for the Brest demo network (idempotent): workshops logged over the last
six weeks with their attendance, and a few upcoming public ones (one takes registrations,
8 places), planned through the same service as the desk so their machines are held."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabbooking.accounts.services import viewer_for
from fabbooking.errors import Refused
from fabbooking.network.tables import Machine, Site
from fabbooking.workshops import registrations, services
from fabbooking.workshops.rules import HeadCount
from fabbooking.workshops.tables import Workshop

BREST = ZoneInfo("Europe/Paris")

# (days ago, site, animator, title, theme, hours, machines, counts). Counted back from today,
# not pinned to days of the month, so that every one of them has taken place whatever the date
# and the hour the demo is loaded, and last month always holds at least two of them.
LOGGED = [
    (40, "fabriques-du-ponant", "gwen", "Initiation impression 3D", "Impression 3D",
     ("14:00", "16:00"), ["prusa-mk4-1", "prusa-mk4-2"],
     {"teens": (6, 5), "adults": (3, 2)}),
    (33, "papifab-bellevue", "samir", "Porte-clés personnalisés", "Impression 3D",
     ("14:00", "16:30"), ["prusa-mini"], {"children": (8, 6), "adults": (2, 1)}),
    (26, "papifab-kerourien", "nolwenn", "Broderie numérique", "Textile",
     ("14:00", "17:00"), ["brother-brodeuse"], {"seniors": (5, 3), "adults": (2, 0)}),
    (19, "papifab-pontanezen", "samir", "Stickers en vinyle", "Découpe vinyle",
     ("10:00", "12:00"), ["cameo-4"], {"school_groups": (14, 14)}),
    (12, "fabriques-du-ponant", "gwen", "Découpe laser : boîtes en bois", "Découpe laser",
     ("14:00", "17:00"), ["trotec-speedy-400"], {"adults": (7, 4), "job_seekers": (3, 3)}),
    (5, "papifab-bellevue", "samir", "Réparer plutôt que jeter", "Réparation",
     ("14:00", "16:00"), [], {"seniors": (4, 1), "adults": (3, 2), "other": (1, 1)}),
]

# (site, animator, title, theme, description, registration, capacity, machines, hours)
PLANNED = [
    ("fabriques-du-ponant", "gwen", "Fabriquer une lampe en bois découpé au laser",
     "Découpe laser", "Dessinez votre motif, on le découpe ensemble, vous repartez avec "
     "votre lampe. Aucune connaissance nécessaire.", True, 8, ["trotec-speedy-400"],
     ("14:00", "16:00")),
    ("papifab-bellevue", "samir", "Café réparation et impression 3D", "Réparation",
     "Apportez un objet cassé : on cherche ensemble la pièce à imprimer. Entrée libre.",
     False, None, ["bambu-p1s"], ("14:00", "16:00")),
    ("papifab-kerourien", "nolwenn", "Découvrir la broderie numérique", "Textile",
     "Un motif, un tissu, une machine : venez broder votre premier écusson.", False, None,
     [], ("14:00", "16:00")),
]


def _moments(day: date, hours: tuple[str, str]) -> tuple[datetime, datetime]:
    start, end = (datetime.combine(day, time.fromisoformat(h), tzinfo=BREST) for h in hours)
    return start.astimezone(UTC), end.astimezone(UTC)


async def _ids(site_slug: str, machine_slugs: list[str]) -> tuple[int, tuple[int, ...]]:
    site = await Site.select(Site.id).where(Site.slug == site_slug).first()
    machines = await Machine.select(Machine.id).where(
        (Machine.site == site["id"]) & Machine.slug.is_in(machine_slugs or ["-"]))
    return site["id"], tuple(m["id"] for m in machines)


async def _exists(site_id: int, title: str) -> bool:
    return await Workshop.exists().where((Workshop.site == site_id) & (Workshop.title == title))


async def _log(ids: dict[str, int], now: datetime) -> int:
    made = 0
    today = now.astimezone(BREST).date()
    for days_ago, site_slug, who, title, theme, hours, machine_slugs, counts in LOGGED:
        site_id, machine_ids = await _ids(site_slug, machine_slugs)
        start, end = _moments(today - timedelta(days=days_ago), hours)
        if end > now or await _exists(site_id, title):
            continue
        draft = services.WorkshopDraft(
            title=title, theme=theme, starts_at=start, ends_at=end, machine_ids=machine_ids,
            animator_ids=(ids[who],), notes="Atelier de démonstration",
            attendance=tuple(HeadCount(a, n, f) for a, (n, f) in counts.items()))
        await services.log_workshop(await viewer_for(ids[who]), site_slug, draft, now)
        made += 1
    return made


async def _plan(ids: dict[str, int], now: datetime) -> int:
    """Each upcoming workshop on the first day from next week on where its machines are
    free and the place is open (the booking rules decide)."""
    made = 0
    today = now.astimezone(BREST).date()
    for site_slug, who, title, theme, description, registration, capacity, machine_slugs, hours in PLANNED:
        site_id, machine_ids = await _ids(site_slug, machine_slugs)
        if await _exists(site_id, title):
            continue
        viewer = await viewer_for(ids[who])
        for days_ahead in range(5 + made * 2, 28):
            start, end = _moments(today + timedelta(days=days_ahead), hours)
            draft = services.WorkshopDraft(
                title=title, theme=theme, description=description, starts_at=start, ends_at=end,
                registration=registration, capacity=capacity, machine_ids=machine_ids,
                animator_ids=(ids[who],))
            try:
                workshop = await services.plan_workshop(viewer, site_slug, draft, now)
            except Refused:
                continue
            made += 1
            if registration:
                for maker in ("maiwenn", "yannick"):
                    await registrations.register(await viewer_for(ids[maker]), workshop["id"], now)
                await registrations.register(viewer, workshop["id"], now, name="Jeanne Le Bihan")
            break
    return made


async def load(ids: dict[str, int]) -> str:
    """Add the demo workshops; ids maps demo usernames to account ids. Returns a short summary."""
    now = datetime.now(UTC)
    logged, planned = await _log(ids, now), await _plan(ids, now)
    if not logged and not planned:
        return ""
    return f"{logged} logged and {planned} upcoming workshops."
