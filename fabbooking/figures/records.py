"""Figures as flat records: the columns of the open-data CSV and JSON, of the API and of the
dashboards' tables (pure). Every column is documented in docs/open-data.md; nothing in a
record names a person, an account, a booking or a private text."""

from __future__ import annotations

from typing import Any

from fabbooking.figures.monthly import AUDIENCES, MACHINE_KINDS, Figures

HOURS_DECIMALS = 2
RATE_DECIMALS = 3

ATTENDANCE_COLUMNS = tuple(f"attendance_{a}" for a in AUDIENCES)
FIRST_TIMER_COLUMNS = tuple(f"first_timers_{a}" for a in AUDIENCES)
USED_KIND_COLUMNS = tuple(f"used_hours_{k}" for k in MACHINE_KINDS)
BOOKED_KIND_COLUMNS = tuple(f"booked_hours_{k}" for k in MACHINE_KINDS)

COLUMNS: tuple[str, ...] = (
    "month", "level", "site", "site_name", "timezone",
    "bookings", "bookings_cancelled", "no_shows", "no_show_rate",
    "booked_hours", "used_hours", "sessions", "walk_in_sessions", "walk_in_hours",
    "workshops_held", "attendance_total", "first_timers_total",
    *ATTENDANCE_COLUMNS, *FIRST_TIMER_COLUMNS, "registrations", "distinct_makers",
    "projects_started", "projects_finished",
    "busiest_kind", "busiest_kind_basis", *USED_KIND_COLUMNS, *BOOKED_KIND_COLUMNS,
)


def _hours(value: float) -> float:
    return round(value + 0.0, HOURS_DECIMALS)


def record(figures: Figures) -> dict[str, Any]:
    """The exact record of one site's (or the network's) month, before suppression."""
    site = figures.site
    rate = figures.no_show_rate
    busiest = figures.busiest_kinds
    row: dict[str, Any] = {
        "month": str(figures.month),
        "level": "site" if site else "network",
        "site": site.slug if site else "",
        "site_name": site.name if site else "",
        "timezone": site.timezone if site else "",
        "bookings": figures.bookings,
        "bookings_cancelled": figures.bookings_cancelled,
        "no_shows": figures.no_shows,
        "no_show_rate": None if rate is None else round(rate, RATE_DECIMALS),
        "booked_hours": _hours(figures.booked_hours),
        "used_hours": _hours(figures.used_hours),
        "sessions": figures.sessions,
        "walk_in_sessions": figures.walk_in_sessions,
        "walk_in_hours": _hours(figures.walk_in_hours),
        "workshops_held": figures.workshops_held,
        "attendance_total": figures.attendance_total,
        "first_timers_total": figures.first_timers_total,
    }
    for audience, column in zip(AUDIENCES, ATTENDANCE_COLUMNS, strict=True):
        row[column] = figures.attendance[audience]
    for audience, column in zip(AUDIENCES, FIRST_TIMER_COLUMNS, strict=True):
        row[column] = figures.first_timers[audience]
    row.update({
        "registrations": figures.registrations,
        "distinct_makers": figures.distinct_makers,
        "projects_started": figures.projects_started,
        "projects_finished": figures.projects_finished,
        "busiest_kind": busiest[0][0] if busiest else "",
        "busiest_kind_basis": figures.busiest_basis or "",
    })
    for kind, column in zip(MACHINE_KINDS, USED_KIND_COLUMNS, strict=True):
        row[column] = _hours(figures.used_hours_by_kind[kind])
    for kind, column in zip(MACHINE_KINDS, BOOKED_KIND_COLUMNS, strict=True):
        row[column] = _hours(figures.booked_hours_by_kind[kind])
    return row


# A text cell starting with one of these is a formula to a spreadsheet (OWASP, « CSV
# injection »): a site named « =HYPERLINK(…) » must stay a name.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> str:
    """CSV cells: empty for a suppressed or missing value, dot decimals, no thousands sep; a
    text that a spreadsheet would take for a formula starts with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return str(value)


def column_docs() -> list[tuple[str, str, str]]:
    """(column, type, meaning) for every column, in French: the open-data page shows them;
    docs/open-data.md says the same at more length."""
    audiences = {"children": "enfants", "teens": "adolescents", "adults": "adultes",
                 "seniors": "seniors", "job_seekers": "personnes en recherche d'emploi",
                 "school_groups": "groupes scolaires", "other": "autres publics"}
    kinds = {"3d_printer": "imprimantes 3D", "laser_cutter": "découpeuses laser",
             "vinyl_cutter": "découpeuses vinyle", "cnc": "fraiseuses numériques",
             "embroidery": "brodeuses", "other": "autres machines"}
    people = " (personnes : vide si de 1 à k-1)"
    docs = [
        ("month", "texte AAAA-MM", "Mois, dans le fuseau horaire du lieu."),
        ("level", "texte", "« site » pour un lieu, « network » pour tout le réseau."),
        ("site", "texte", "Identifiant court du lieu (vide pour le réseau)."),
        ("site_name", "texte", "Nom du lieu (vide pour le réseau)."),
        ("timezone", "texte", "Fuseau horaire du lieu, ex. Europe/Paris (vide pour le réseau)."),
        ("bookings", "entier", "Réservations de makers commençant ce mois, non annulées."),
        ("bookings_cancelled", "entier", "Réservations de makers commençant ce mois, annulées."),
        ("no_shows", "entier", "Réservations non honorées (personne n'est venu)."),
        ("no_show_rate", "décimal 0–1", "no_shows / (réservations passées confirmées + no_shows) ; vide si aucune."),
        ("booked_hours", "heures", "Heures réservées (ateliers compris), coupées aux limites du mois."),
        ("used_hours", "heures", "Heures où les machines ont tourné (transmises par elles), coupées au mois."),
        ("sessions", "entier", "Utilisations transmises par les machines, commençant ce mois."),
        ("walk_in_sessions", "entier", "Dont utilisations sans réservation."),
        ("walk_in_hours", "heures", "Heures des utilisations sans réservation."),
        ("workshops_held", "entier", "Ateliers qui ont eu lieu ce mois."),
        ("attendance_total", "entier", "Participants aux ateliers, tous publics" + people + "."),
        ("first_timers_total", "entier", "Dont venus pour la première fois" + people + "."),
    ]
    docs += [(f"attendance_{a}", "entier", f"Participants : {label}{people}.") for a, label in audiences.items()]
    docs += [(f"first_timers_{a}", "entier", f"Premières venues : {label}{people}.") for a, label in audiences.items()]
    docs += [
        ("registrations", "entier", "Places réservées aux ateliers du mois" + people + "."),
        ("distinct_makers", "entier", "Makers différents ayant réservé (une personne compte une fois)" + people + "."),
        ("projects_started", "entier", "Projets créés ce mois."),
        ("projects_finished", "entier", "Projets terminés ce mois."),
        ("busiest_kind", "texte", "Type de machine le plus utilisé (heures utilisées, sinon réservées)."),
        ("busiest_kind_basis", "texte", "« used » ou « booked » : sur quoi busiest_kind est calculé."),
    ]
    docs += [(f"used_hours_{k}", "heures", f"Heures utilisées : {label}.") for k, label in kinds.items()]
    docs += [(f"booked_hours_{k}", "heures", f"Heures réservées : {label}.") for k, label in kinds.items()]
    return docs
