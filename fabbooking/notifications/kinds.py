"""The kinds of e-mail Fabbooking sends: which a person may turn off, and which may go to an
address not proved yet. Pure data: the subjects and the « why you get this » sentences are
French msgids, translated for each person when the message is written."""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """Marks a msgid for extraction; translated later, in the person's language."""
    return message


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # on « Mon compte »: what the person turns on or off
    subject: str  # %(name)s placeholders filled from the message's context
    optional: bool = True  # the person may turn it off
    needs_verified: bool = True  # sent only to an address the person proved is theirs


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("booking_confirmed", N_("Confirmation de mes réservations"),
         N_("Réservation confirmée : %(machine)s, %(when)s")),
    Kind("booking_reminder", N_("Rappel la veille de mes réservations"),
         N_("Rappel : %(machine)s demain, %(when)s")),
    Kind("booking_cancelled", N_("Réservation annulée par l'équipe"),
         N_("Réservation annulée : %(machine)s, %(when)s")),
    Kind("booking_no_show", N_("Réservation libérée parce que je ne suis pas venu·e"),
         N_("Réservation libérée : %(machine)s, %(when)s")),
    Kind("machine_unavailable", N_("Machine en panne ou en maintenance pendant ma réservation"),
         N_("%(machine)s n'est plus disponible")),
    Kind("slot_freed", N_("Une machine que j'attends s'est libérée"),
         N_("Libre : %(machine)s, %(when)s")),
    Kind("workshop_registered", N_("Inscription à un atelier confirmée"),
         N_("Inscription confirmée : %(workshop)s")),
    Kind("workshop_waitlisted", N_("Inscription sur la liste d'attente d'un atelier"),
         N_("Liste d'attente : %(workshop)s")),
    Kind("workshop_promoted", N_("Une place s'est libérée dans un atelier"),
         N_("Une place pour vous : %(workshop)s")),
    Kind("workshop_cancelled", N_("Atelier annulé"),
         N_("Atelier annulé : %(workshop)s")),
    # Not to be turned off: they answer what the person just asked for.
    Kind("address_verification", N_("Vérification de mon adresse e-mail"),
         N_("Confirmez votre adresse e-mail"), optional=False, needs_verified=False),
)}

OPTIONAL_KINDS = tuple(k for k in KINDS.values() if k.optional)


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown kind of message {name!r}; add it to notifications/kinds.py") from None


def add_kind(new: Kind) -> None:
    """For another domain (sign-up, password reset) to declare its own kind of message."""
    KINDS[new.name] = new
