"""Demo projects for the Brest demo network (idempotent): three public projects by demo
makers, with dated steps, generated photos, a model file and one attached booking."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw

from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.tables import Booking, BookingPurpose, BookingStatus
from fabbooking.errors import Refused
from fabbooking.projects import attachments, services
from fabbooking.projects.tables import Project
from fabbooking.usage.tables import UsageSession

STL = (b"solid support\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 60 0 0\n"
       b"   vertex 0 80 0\n  endloop\n endfacet\nendsolid support\n")

PROJECTS = [
    {
        "owner": "maiwenn", "title": "Lampe de chevet en contreplaqué", "status": "done",
        "summary": "Une lampe douce, découpée au laser dans du peuplier de 3 mm.",
        "body": "## Pourquoi\n\nJe voulais une lumière pour lire sans réveiller tout le monde.\n\n"
                "## Matériel\n\n- contreplaqué peuplier 3 mm\n- une guirlande LED à piles\n- colle à bois",
        "tags": ["lampe", "bois", "découpe laser"], "licence": "CC-BY-SA-4.0", "colour": (214, 160, 92),
        "booking": True,
        "steps": [
            (14, "Le dessin", "Dessiné dans Inkscape, avec des **encoches** de 3 mm.", "Le dessin des pièces"),
            (7, "La découpe", "Découpe à 80 % de puissance, deux passages.", "Les pièces découpées posées sur la table"),
            (2, "L'assemblage", "Collé, puis la guirlande glissée dedans. Fini !", "La lampe allumée dans le noir"),
        ],
    },
    {
        "owner": "yannick", "collaborator": "karim", "title": "Support de téléphone pour le vélo",
        "status": "in_progress", "summary": "Un support imprimé en PETG qui tient sur le guidon.",
        "body": "Le modèle est ajusté pour un guidon de 25 mm.", "tags": ["vélo", "impression 3d", "petg"],
        "licence": "CC0-1.0", "colour": (60, 130, 190), "model": True,
        "steps": [
            (10, "Premier essai", "Trop serré : le collier casse. On élargit de 1 mm.", "Le premier support, cassé"),
            (3, "Deuxième version", "Ça tient ! Reste à tester sous la pluie.", "Le support sur le guidon"),
        ],
    },
    {
        "owner": "lea", "title": "Nichoir à mésanges", "status": "idea",
        "summary": "Un nichoir pour la cour de l'école, à fabriquer avec les enfants.",
        "body": "Trou d'entrée de **28 mm** pour les mésanges bleues.", "tags": ["oiseaux", "bois", "école"],
        "licence": "CC-BY-4.0", "colour": (90, 150, 90),
        "steps": [(1, "L'idée", "Mesures trouvées dans un guide de la LPO.", "Un croquis du nichoir")],
    },
]


def demo_photo(colour: tuple[int, int, int], label: int) -> bytes:
    """A small made-up photo: a coloured scene with simple shapes (no real picture needed)."""
    image = Image.new("RGB", (960, 720), (235, 232, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 520, 960, 720), fill=(180, 170, 150))
    draw.rounded_rectangle((300 - label * 20, 200, 660 + label * 20, 560), radius=40, fill=colour)
    draw.ellipse((420, 90, 540, 210), fill=(250, 220, 120))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def load(ids: dict[str, int]) -> str:
    """Add the demo projects; ids maps demo usernames to account ids. Returns a short summary."""
    made = 0
    today = datetime.now(UTC).date()
    for plan in PROJECTS:
        if await Project.exists().where(Project.title == plan["title"]):
            continue
        owner = Viewer(account_id=ids[plan["owner"]], username=plan["owner"], role="maker")
        row = await services.create_project(owner, {
            "title": plan["title"], "summary": plan["summary"], "body": plan["body"], "status": plan["status"],
            "licence": plan["licence"], "visibility": "public", "tags": plan["tags"]}, datetime.now(UTC))
        slug = row["slug"]
        if plan.get("collaborator"):
            await services.add_member(owner, slug, plan["collaborator"])
        await services.add_media(owner, slug, "couverture.jpg", demo_photo(plan["colour"], 0),
                                 alt=plan["steps"][-1][3], cover=True)
        for number, (days_ago, title, body, alt) in enumerate(plan["steps"], start=1):
            step = await services.add_step(owner, slug, today - timedelta(days=days_ago), title, body)
            await services.add_media(owner, slug, f"etape-{number}.jpg", demo_photo(plan["colour"], number),
                                     step_id=step["id"], alt=alt)
            if plan.get("model") and number == len(plan["steps"]):
                await services.add_media(owner, slug, "support-velo.stl", STL, step_id=step["id"])
        if plan.get("booking"):
            await _attach_a_booking(owner, slug)
        made += 1
    return f"{made} demo projects." if made else ""


async def _attach_a_booking(owner: Viewer, slug: str) -> None:
    """Prefer bookings whose machine reported jobs (the demo history), so the project shows
    measured machine time; otherwise any confirmed booking of the maker."""
    mine = (Booking.maker == owner.account_id) & (Booking.purpose == BookingPurpose.maker.value) \
        & (Booking.status != BookingStatus.cancelled.value)
    used = await Booking.select(Booking.id).where(
        mine & Booking.id.is_in(UsageSession.select(UsageSession.booking).where(UsageSession.booking.is_not_null()))
    ).order_by(Booking.start_at, ascending=False).limit(3)
    chosen = used or await Booking.select(Booking.id).where(mine).order_by(Booking.start_at).limit(1)
    for booking in chosen:
        try:
            await attachments.attach_booking(owner, slug, booking["id"])
        except Refused:
            continue
