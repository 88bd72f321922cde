"""A demo network of Brest fab spaces: sites, machines, trainings, people and bookings.

Idempotent: what exists already (matched by slug or username) is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from fabbooking.accounts.services import NewAccount, create_account, find_account
from fabbooking.accounts.tables import Account
from fabbooking.accounts.viewer import Viewer
from fabbooking.bookings.availability import free_intervals
from fabbooking.bookings.services import book, busy_intervals
from fabbooking.bookings.tables import Booking
from fabbooking.errors import Refused
from fabbooking.network.services import machine_place
from fabbooking.network.tables import DemoNetwork, Machine, OpeningPeriod, Site
from fabbooking.notifications.addresses import mark_proved
from fabbooking.training.tables import Qualification, Training

DEMO_PASSWORD = "fabbooking"

PAPIFAB_HOURS = [(1, "14:00", "18:00"), (2, "10:00", "12:00"), (2, "14:00", "18:00"),
                 (3, "14:00", "18:00"), (4, "14:00", "19:00"), (5, "10:00", "17:00")]
FABLAB_HOURS = [(d, "10:00", "19:00") for d in range(0, 5)] + [(5, "10:00", "17:00")]

SITES = [
    dict(slug="fabriques-du-ponant", name="Les Fabriques du Ponant", kind="fablab",
         neighbourhood="Saint-Martin", address="Lycée Vauban, rue de Kerichen, 29200 Brest",
         description="Le grand FabLab du réseau : découpe laser, impression 3D, fraiseuse.",
         hours=FABLAB_HOURS, max_minutes=240),
    dict(slug="papifab-bellevue", name="PAPIFab de Bellevue", kind="papifab",
         neighbourhood="Bellevue", address="Maison de quartier de Bellevue, 29200 Brest",
         description="Un petit atelier de quartier pour découvrir l'impression 3D.",
         hours=PAPIFAB_HOURS, max_minutes=180),
    dict(slug="papifab-pontanezen", name="PAPIFab de Pontanézen", kind="papifab",
         neighbourhood="Pontanézen", address="Centre social Horizons, 29200 Brest",
         description="Impression 3D et découpe vinyle, accompagné par l'équipe du centre social.",
         hours=PAPIFAB_HOURS, max_minutes=180),
    dict(slug="papifab-kerourien", name="PAPIFab de Kérourien", kind="papifab",
         neighbourhood="Kérourien", address="Centre social de Kérourien, 29200 Brest",
         description="Un PAPIFab avec une petite découpeuse laser et une brodeuse.",
         hours=PAPIFAB_HOURS, max_minutes=120),
]

TRAININGS = [
    dict(slug="impression-3d-initiation", name="Impression 3D – initiation",
         description="Préparer un fichier, lancer et surveiller une impression.",
         unlocks_kinds=["3d_printer"]),
    dict(slug="decoupe-laser-initiation", name="Découpe laser – initiation",
         description="Sécurité, réglages, matériaux autorisés, surveillance de la découpe.",
         unlocks_kinds=["laser_cutter"]),
    dict(slug="fraiseuse-initiation", name="Fraiseuse numérique – initiation",
         description="Brider la pièce, choisir la fraise, lancer un usinage.",
         unlocks_kinds=["cnc"]),
]

MACHINES = [
    ("fabriques-du-ponant", "trotec-speedy-400", "Découpeuse laser Trotec Speedy 400",
     "laser_cutter", "decoupe-laser-initiation", {"bed_mm": [1000, 610], "power_w": 80}),
    ("fabriques-du-ponant", "prusa-mk4-1", "Imprimante 3D Prusa MK4 n° 1", "3d_printer",
     "impression-3d-initiation", {"build_mm": [250, 210, 220]}),
    ("fabriques-du-ponant", "prusa-mk4-2", "Imprimante 3D Prusa MK4 n° 2", "3d_printer",
     "impression-3d-initiation", {"build_mm": [250, 210, 220]}),
    ("fabriques-du-ponant", "shapeoko-4", "Fraiseuse Shapeoko 4", "cnc",
     "fraiseuse-initiation", {"bed_mm": [838, 838]}),
    ("papifab-bellevue", "prusa-mini", "Imprimante 3D Prusa Mini", "3d_printer",
     "impression-3d-initiation", {"build_mm": [180, 180, 180]}),
    ("papifab-bellevue", "bambu-p1s", "Imprimante 3D Bambu Lab P1S", "3d_printer",
     "impression-3d-initiation", {"build_mm": [256, 256, 256]}),
    ("papifab-pontanezen", "ender-3", "Imprimante 3D Creality Ender 3", "3d_printer",
     "impression-3d-initiation", {"build_mm": [220, 220, 250]}),
    ("papifab-pontanezen", "cameo-4", "Découpeuse vinyle Silhouette Cameo 4", "vinyl_cutter",
     None, {"width_mm": 305}),
    ("papifab-kerourien", "epilog-zing", "Découpeuse laser Epilog Zing 24", "laser_cutter",
     "decoupe-laser-initiation", {"bed_mm": [610, 305], "power_w": 40}),
    ("papifab-kerourien", "brother-brodeuse", "Brodeuse Brother Innov-is", "embroidery",
     None, {}),
]

PEOPLE = [
    NewAccount("admin", DEMO_PASSWORD, "admin", display_name="Admin du réseau"),
    NewAccount("gwen", DEMO_PASSWORD, "animator", display_name="Gwen (Fabriques du Ponant)",
               site_slugs=("fabriques-du-ponant",)),
    NewAccount("samir", DEMO_PASSWORD, "animator", display_name="Samir (Bellevue, Pontanézen)",
               site_slugs=("papifab-bellevue", "papifab-pontanezen")),
    NewAccount("nolwenn", DEMO_PASSWORD, "animator", display_name="Nolwenn (Kérourien)",
               site_slugs=("papifab-kerourien",)),
    NewAccount("maiwenn", DEMO_PASSWORD, "maker", email="maiwenn@example.org", display_name="Maïwenn"),
    NewAccount("yannick", DEMO_PASSWORD, "maker", display_name="Yannick"),
    NewAccount("karim", DEMO_PASSWORD, "maker", email="karim@example.org", display_name="Karim"),
    NewAccount("lea", DEMO_PASSWORD, "maker", email="lea@example.org", display_name="Léa"),
]

QUALIFIED = {  # username -> trainings validated at the desk
    "maiwenn": ["impression-3d-initiation", "decoupe-laser-initiation"],
    "yannick": ["impression-3d-initiation"],
    "karim": ["impression-3d-initiation", "fraiseuse-initiation"],
}


def _t(text: str) -> time:
    return time.fromisoformat(text)


async def _sites() -> int:
    created = 0
    for spec in SITES:
        spec = dict(spec)
        hours = spec.pop("hours")
        if await Site.exists().where(Site.slug == spec["slug"]):
            continue
        rows = await Site.insert(Site(**spec)).returning(Site.id)
        await OpeningPeriod.insert(*[
            OpeningPeriod(site=rows[0]["id"], weekday=d, opens=_t(o), closes=_t(c))
            for d, o, c in hours
        ])
        created += 1
    return created


async def _trainings() -> None:
    for spec in TRAININGS:
        if not await Training.exists().where(Training.slug == spec["slug"]):
            await Training.insert(Training(**spec))


async def _machines() -> None:
    for site_slug, slug, name, kind, training_slug, specs in MACHINES:
        site = await Site.select(Site.id).where(Site.slug == site_slug).first()
        if await Machine.exists().where((Machine.site == site["id"]) & (Machine.slug == slug)):
            continue
        training = None
        if training_slug:
            training = (await Training.select(Training.id).where(Training.slug == training_slug).first())["id"]
        await Machine.insert(Machine(site=site["id"], slug=slug, name=name, kind=kind,
                                     required_training=training, specs=specs))


PROVED_ADDRESSES = ("maiwenn", "karim")


async def _people() -> dict[str, int]:
    ids = {}
    for person in PEOPLE:
        account = await find_account(person.username) or await create_account(person)
        ids[person.username] = account.id
    # Maïwenn and Karim opened the link that proves their address (their e-mails are in the
    # outbox, /manage/outbox); Léa has not yet (the desk shows it); the others gave none.
    for username in PROVED_ADDRESSES:
        if person_email := next(p.email for p in PEOPLE if p.username == username):
            await mark_proved(ids[username], person_email, datetime.now(UTC))
    for username, slugs in QUALIFIED.items():
        for slug in slugs:
            training = await Training.select(Training.id).where(Training.slug == slug).first()
            if not await Qualification.exists().where(
                (Qualification.account == ids[username]) & (Qualification.training == training["id"])
            ):
                await Qualification.insert(Qualification(
                    account=ids[username], training=training["id"],
                    granted_on=datetime.now(UTC).date(), granted_by=ids["gwen"],
                    granted_at_site="fabriques-du-ponant",
                ))
    return ids


async def _bookings(ids: dict[str, int]) -> int:
    """A few bookings in the coming days, in free slots, made as the desk would."""
    if await Booking.exists().where(Booking.maker.is_in([ids["maiwenn"], ids["yannick"], ids["karim"]])):
        return 0
    admin = Viewer(account_id=ids["admin"], username="admin", role="admin")
    now = datetime.now(UTC)
    plan = [("maiwenn", "trotec-speedy-400", 1), ("maiwenn", "prusa-mini", 2),
            ("yannick", "prusa-mk4-1", 1), ("yannick", "bambu-p1s", 3),
            ("karim", "shapeoko-4", 2), ("karim", "ender-3", 4)]
    made = 0
    for username, machine_slug, days_ahead in plan:
        machine = await Machine.select(Machine.id).where(Machine.slug == machine_slug).first()
        place = await machine_place(machine["id"])
        start = now + timedelta(days=days_ahead)
        end = start + timedelta(days=7)
        free = free_intervals(start, end, now, place.facts, await busy_intervals(machine["id"], start, end))
        if not free:
            continue
        slot_start = free[0].start
        slot_end = min(free[0].end, slot_start + timedelta(hours=2))
        try:
            await book(admin, machine["id"], slot_start, slot_end, now, maker_id=ids[username],
                       note="Réservation de démonstration")
            made += 1
        except Refused:
            continue
    return made


# How the demo machines report their use; `fabbooking serve` plays them
# (fabbooking/usage/demo_live.py, which also says how much each one draws).
DEVICES = [
    ("papifab-bellevue", "prusa-mini", "contract", "gw-bellevue", ""),
    ("papifab-bellevue", "bambu-p1s", "contract", "gw-bellevue", ""),
    ("fabriques-du-ponant", "prusa-mk4-1", "octoprint", None, "octoprint-mk4-1"),
    ("fabriques-du-ponant", "prusa-mk4-2", "klipper", None, "klipper-mk4-2"),
    ("fabriques-du-ponant", "trotec-speedy-400", "tasmota", None, "ponant-laser"),
    ("papifab-kerourien", "epilog-zing", "shelly", None, "kerourien-laser"),
]


async def _devices() -> None:
    from fabbooking.usage import services as usage
    from fabbooking.usage.tables import Gateway, MaintenancePlan, Telemetry

    for site_slug, machine_slug, fmt, gateway, topic in DEVICES:
        machine = await Machine.select(Machine.id).where(
            (Machine.site.slug == site_slug) & (Machine.slug == machine_slug)).first()
        if await Telemetry.exists().where(Telemetry.machine == machine["id"]):
            continue
        if gateway and not await Gateway.exists().where(Gateway.ident == gateway):
            await usage.create_gateway(None, site_slug, gateway, f"Passerelle {site_slug}")
        laser = fmt in ("tasmota", "shelly")
        await usage.set_telemetry(None, machine["id"], {
            "format": fmt, "gateway": gateway, "device_topic": topic,
            "start_w": 300.0 if laser else 60.0, "idle_w": 120.0 if laser else 25.0,
            "start_after_s": 20, "stop_after_s": 60})
        if laser:
            await MaintenancePlan.insert(MaintenancePlan(
                machine=machine["id"], task="Nettoyer la lentille et le miroir", every_hours=20))


async def load_demo() -> str:
    sites = await _sites()
    await _trainings()
    await _machines()
    ids = await _people()
    bookings = await _bookings(ids)
    await _devices()
    from fabbooking.figures import demo as demo_history
    from fabbooking.projects import demo as demo_projects
    from fabbooking.workshops import demo as demo_workshops

    extras = " ".join(filter(None, [
        await demo_history.load(ids), await demo_workshops.load(ids), await demo_projects.load(ids),
    ]))
    if not await DemoNetwork.exists():
        await DemoNetwork.insert(DemoNetwork(loaded_at=datetime.now(UTC)))
    total_accounts = await Account.count()
    return (
        f"Demo network ready: {await Site.count()} sites ({sites} new), "
        f"{await Machine.count()} machines, {total_accounts} accounts, {bookings} new bookings."
        f"{' ' + extras if extras else ''}\n"
        f"Log in as maiwenn, yannick, karim or lea (makers), gwen, samir or nolwenn "
        f"(animators), or admin — password: {DEMO_PASSWORD}\n"
        f"'fabbooking serve' plays its machines: they print and cut on their own (simulated).\n"
        f"maiwenn and karim get e-mail (written to the log without FABBOOKING_SMTP_URL): see /manage/outbox as admin."
    )
