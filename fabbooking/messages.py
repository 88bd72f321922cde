"""What every refusal and error says to a person, French first, English too.

Keys are the stable ``code`` values of the API. Messages say what happened and what to do.
"""

from __future__ import annotations

from datetime import date

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

MESSAGES: dict[str, tuple[str, str]] = {
    # booking rules
    "invalid_range": (
        "La fin doit être après le début. Choisissez une heure de fin plus tardive.",
        "The end must be after the start. Choose a later end time.",
    ),
    "machine_in_maintenance": (
        "Cette machine est en maintenance. Choisissez une autre machine ou revenez plus tard.",
        "This machine is under maintenance. Choose another machine or come back later.",
    ),
    "machine_out_of_order": (
        "Cette machine est en panne. Choisissez une autre machine ; l'équipe est prévenue.",
        "This machine is out of order. Choose another machine; the team knows about it.",
    ),
    "in_the_past": (
        "Ce créneau est déjà passé. Choisissez un créneau à venir.",
        "This time slot is already over. Choose a slot in the future.",
    ),
    "notice_too_short": (
        "Il faut réserver au moins {minutes} minutes à l'avance. Choisissez un créneau plus tard.",
        "Bookings must be made at least {minutes} minutes ahead. Choose a later slot.",
    ),
    "too_far_ahead": (
        "On ne peut pas réserver plus de {days} jours à l'avance. Choisissez une date plus proche.",
        "You cannot book more than {days} days ahead. Choose an earlier date.",
    ),
    "not_on_slot_grid": (
        "Les réservations commencent et finissent sur des tranches de {minutes} minutes "
        "(par exemple 14 h 00, 14 h {minutes:02d}).",
        "Bookings start and end on {minutes}-minute steps (for example 14:00, 14:{minutes:02d}).",
    ),
    "too_short": (
        "La réservation doit durer au moins {minutes} minutes.",
        "The booking must last at least {minutes} minutes.",
    ),
    "too_long": (
        "La réservation ne peut pas dépasser {minutes} minutes. Faites-en une plus courte.",
        "The booking cannot last more than {minutes} minutes. Make it shorter.",
    ),
    "site_closed": (
        "Le lieu est fermé du {start} au {end}{reason}. Choisissez une autre date.",
        "The place is closed from {start} to {end}{reason}. Choose another date.",
    ),
    "outside_opening_hours": (
        "Le lieu n'est pas ouvert pendant tout ce créneau. Choisissez un créneau pendant les "
        "heures d'ouverture.",
        "The place is not open for the whole of this slot. Choose a slot within opening hours.",
    ),
    "not_qualified": (
        "Cette machine demande la formation « {training} ». Demandez-la à un animateur ou une "
        "animatrice : elle est valable dans tous les lieux du réseau.",
        "This machine needs the training “{training}”. Ask a facilitator for it: it is valid "
        "at every place of the network.",
    ),
    "qualification_expired": (
        "Votre formation « {training} » a expiré. Demandez à un animateur ou une animatrice "
        "de la renouveler.",
        "Your training “{training}” has expired. Ask a facilitator to renew it.",
    ),
    "too_many_bookings": (
        "Vous avez déjà {limit} réservations à venir ici, le maximum. Annulez-en une ou "
        "attendez qu'elle soit passée.",
        "You already have {limit} upcoming bookings here, the maximum. Cancel one or wait "
        "until one is over.",
    ),
    "overlap": (
        "Ce créneau est déjà réservé. Choisissez un autre créneau.",
        "This slot is already booked. Choose another slot.",
    ),
    "too_close": (
        "Il faut laisser {minutes} minutes entre deux réservations de cette machine. Décalez "
        "votre créneau.",
        "This machine needs {minutes} minutes between two bookings. Move your slot.",
    ),
    # e-mail (notifications)
    "address_link_invalid": (
        "Ce lien de vérification ne correspond pas à votre adresse e-mail actuelle. Demandez un "
        "nouveau lien depuis « Mes e-mails ».",
        "This verification link does not match your current e-mail address. Ask for a new link "
        "from \"My e-mails\".",
    ),
    "address_link_expired": (
        "Ce lien de vérification a plus de {days} jours : il ne marche plus. Demandez un nouveau "
        "lien depuis « Mes e-mails ».",
        "This verification link is more than {days} days old and no longer works. Ask for a new "
        "link from \"My e-mails\".",
    ),
    "unknown_message_kind": (
        "Ce type de message n'existe pas. Rechargez la page et cochez les cases proposées.",
        "This kind of message does not exist. Reload the page and tick the boxes shown.",
    ),
    "already_cancelled": (
        "Cette réservation est déjà annulée.",
        "This booking is already cancelled.",
    ),
    "held_for_workshop": (
        "Cette machine est réservée pour un atelier. Pour la libérer, modifiez ou annulez "
        "l'atelier depuis l'accueil du lieu.",
        "This machine is held for a workshop. To free it, change or cancel the workshop from "
        "the place's desk.",
    ),
    "not_cancellable": (
        "Cette réservation a déjà été libérée, car personne n'est venu : il n'y a plus rien à annuler.",
        "This booking was already released because nobody came: there is nothing left to cancel.",
    ),
    "not_yours": (
        "Cette réservation n'est pas la vôtre.",
        "This booking is not yours.",
    ),
    "cancel_deadline_passed": (
        "Il est trop tard pour annuler en ligne (au plus tard {minutes} minutes avant). "
        "Prévenez l'équipe du lieu.",
        "It is too late to cancel online (at the latest {minutes} minutes before). Tell the "
        "team at the place.",
    ),
    # accounts and access
    "not_authenticated": (
        "Connectez-vous d'abord (nom d'utilisateur et mot de passe, ou jeton d'API).",
        "Log in first (username and password, or an API token).",
    ),
    "bad_credentials": (
        "Nom d'utilisateur ou mot de passe incorrect. Vérifiez et réessayez, ou demandez à "
        "un animateur de changer votre mot de passe.",
        "Wrong username or password. Check and try again, or ask a facilitator to reset "
        "your password.",
    ),
    "too_many_attempts": (
        "Trop d'essais de mot de passe depuis cet appareil. Réessayez dans {minutes} min. "
        "Mot de passe oublié ? Un animateur ou une animatrice peut le changer à l'accueil.",
        "Too many password attempts from this device. Try again in {minutes} min. Forgotten "
        "your password? A facilitator can change it at the desk.",
    ),
    "forbidden": (
        "Vous n'avez pas le droit de faire cela. Demandez à l'équipe du lieu si besoin.",
        "You are not allowed to do this. Ask the team at the place if needed.",
    ),
    "not_staff_of_site": (
        "Seule l'équipe de ce lieu (ou un administrateur du réseau) peut faire cela.",
        "Only this place's team (or a network admin) can do this.",
    ),
    "on_behalf_needs_staff": (
        "Seule l'équipe d'un lieu peut réserver pour quelqu'un d'autre.",
        "Only a place's team can book for someone else.",
    ),
    "invalid_username": (
        "Ce nom d'utilisateur ne convient pas : il doit faire 2 à 40 caractères, lettres, chiffres "
        "et . - _ @ + seulement (pas d'espace). Par exemple : lea.martin",
        "This username will not do: it must be 2 to 40 characters, only letters, digits and "
        ". - _ @ + (no space). For example: lea.martin",
    ),
    "username_taken": (
        "Le nom d'utilisateur « {username} » est déjà pris. Choisissez-en un autre.",
        "The username “{username}” is already taken. Choose another one.",
    ),
    "username_look_alike": (
        "Le nom d'utilisateur « {username} » ressemble trop à un nom qui existe déjà (des lettres "
        "d'autres alphabets, comme le « а » cyrillique, ont l'air latines). Choisissez un autre nom, "
        "écrit en lettres latines de préférence.",
        "The username “{username}” looks too much like one that already exists (letters of "
        "other alphabets, like the Cyrillic “а”, look Latin). Choose another name, in Latin "
        "letters if you can.",
    ),
    "email_taken": (
        "Cette adresse e-mail est déjà utilisée par un autre compte.",
        "This email address is already used by another account.",
    ),
    "invalid_email": (
        "L'adresse e-mail « {email} » n'est pas complète : elle s'écrit comme nom@exemple.fr. "
        "Corrigez-la, ou laissez le champ vide : elle n'est pas obligatoire.",
        "The e-mail address “{email}” is not complete: it looks like name@example.org. Correct "
        "it, or leave the field empty: it is not required.",
    ),
    "rules_not_accepted": (
        "Pour créer un compte, lisez les règles du réseau et cochez la case qui dit que vous les "
        "acceptez.",
        "To create an account, read the network's rules and tick the box saying you accept them.",
    ),
    "too_many_signups": (
        "Trop de comptes ont été créés depuis cette connexion (ce réseau Wi-Fi ou cet appareil). "
        "Réessayez dans {minutes} min, ou demandez à l'équipe d'un lieu du réseau : elle vous "
        "crée un compte tout de suite.",
        "Too many accounts were created from this connection (this Wi-Fi network or this "
        "device). Try again in {minutes} min, or ask the team at any place of the network: "
        "they will create an account for you at once.",
    ),
    "too_many_reset_requests": (
        "Trop de demandes de nouveau mot de passe depuis cette connexion. Réessayez dans "
        "{minutes} min, ou demandez à l'équipe d'un lieu du réseau.",
        "Too many new-password requests from this connection. Try again in {minutes} min, or "
        "ask the team at any place of the network.",
    ),
    "reset_link_sent": (
        "Si ce compte a une adresse e-mail, un message vient d'y partir avec un lien pour "
        "choisir un nouveau mot de passe (valable une heure, une seule fois).",
        "If this account has an e-mail address, a message with a link to choose a new password "
        "has just been sent to it (valid for an hour, once).",
    ),
    "reset_link_invalid": (
        "Ce lien pour changer de mot de passe ne marche plus : il a déjà servi, ou il a plus "
        "d'une heure. Demandez-en un nouveau, ou demandez à l'équipe d'un lieu du réseau.",
        "This link to change your password no longer works: it was already used, or it is "
        "more than an hour old. Ask for a new one, or ask the team at any place of the network.",
    ),
    "wrong_password": (
        "Ce n'est pas votre mot de passe actuel. Vérifiez et réessayez.",
        "This is not your current password. Check and try again.",
    ),
    "last_admin_cannot_leave": (
        "Vous êtes le dernier administrateur du réseau : votre compte ne peut pas être "
        "supprimé. Nommez d'abord une autre personne administrateur, puis recommencez.",
        "You are the network's last admin: your account cannot be deleted. Make someone else "
        "an admin first, then try again.",
    ),
    "invalid_password": (
        "Ce mot de passe n'est pas accepté. Choisissez-en un autre.",
        "This password is not accepted. Choose another one.",
    ),
    "password_too_short": (
        "Le mot de passe doit faire au moins {minimum} caractères.",
        "The password must be at least {minimum} characters long.",
    ),
    "password_too_long": (
        "Le mot de passe ne peut pas dépasser {maximum} caractères.",
        "The password cannot be longer than {maximum} characters.",
    ),
    "slug_taken": (
        "L'identifiant « {slug} » est déjà pris. Choisissez-en un autre.",
        "The identifier “{slug}” is already taken. Choose another one.",
    ),
    "invalid_timezone": (
        "Fuseau horaire inconnu « {timezone} ». Utilisez un nom comme Europe/Paris.",
        "Unknown timezone “{timezone}”. Use a name like Europe/Paris.",
    ),
    "invalid_opening_period": (
        "Horaire d'ouverture incorrect : la fermeture ({closes}) doit être après "
        "l'ouverture ({opens}).",
        "Wrong opening hours: closing ({closes}) must be after opening ({opens}).",
    ),
    "invalid_closure": (
        "Fermeture incorrecte : la date de fin doit être le même jour ou après la date de début.",
        "Wrong closure: the end date must be on or after the start date.",
    ),
    "range_too_long": (
        "La période demandée est trop longue ({days} jours au plus). Demandez une période plus "
        "courte.",
        "The requested period is too long ({days} days at most). Ask for a shorter period.",
    ),
    # waiting list
    "wish_needs_machine_or_kind": (
        "Dites quelle machine vous attendez : une machine précise, ou un type de machine dans un lieu.",
        "Say which machine you are waiting for: one machine, or a kind of machine at a place.",
    ),
    "wish_unknown_kind": (
        "Le type de machine « {kind} » n'existe pas. Choisissez parmi : {kinds}.",
        "There is no kind of machine “{kind}”. Choose one of: {kinds}.",
    ),
    "wish_machine_elsewhere": (
        "Cette machine n'est pas au lieu « {site} ». Choisissez une machine de ce lieu, ou ne donnez pas de lieu.",
        "This machine is not at “{site}”. Choose a machine of that place, or give no place.",
    ),
    "too_many_wishes": (
        "Vous attendez déjà {count} créneaux. Retirez-en un dans « Mes réservations » avant d'en demander un autre.",
        "You are already waiting for {count} slots. Remove one in “My bookings” before asking for another.",
    ),
    # generic
    "not_found": (
        "Nous n'avons pas trouvé {what}. Vérifiez le lien ou revenez à la liste.",
        "We could not find {what}. Check the link or go back to the list.",
    ),
    "invalid_input": (
        "Certaines informations sont incorrectes : {problems}",
        "Some information is not right: {problems}",
    ),
    "invalid_device_topic": (
        "Ce topic d'appareil ne convient pas : il doit désigner un seul appareil, exactement comme "
        "dans sa configuration (par exemple tasmota_laser), sans joker MQTT + ni #, sans caractère "
        "de contrôle, sans $ ni / au début, sans / à la fin ni niveau vide (//).",
        "This device topic will not do: it must name one device, exactly as in its settings (for "
        "example tasmota_laser), with no MQTT wildcard + or #, no control character, no $ or / at "
        "the start, no / at the end and no empty level (//).",
    ),
    "naive_datetime": (
        "La date « {field} » doit indiquer son fuseau, par exemple 2026-03-14T14:00:00+01:00 "
        "ou …Z pour UTC.",
        "The date “{field}” must carry its offset, for example 2026-03-14T14:00:00+01:00 or "
        "…Z for UTC.",
    ),
    "invalid_datetime": (
        "La date « {field} » n'est pas lisible. Écrivez-la comme 2026-03-14T14:00:00+01:00.",
        "The date “{field}” cannot be read. Write it like 2026-03-14T14:00:00+01:00.",
    ),
    "method_not_allowed": (
        "Cette action n'existe pas à cette adresse.",
        "This action does not exist at this address.",
    ),
    "server_error": (
        "Une erreur inattendue s'est produite de notre côté ; rien n'a été enregistré. "
        "Réessayez dans un instant, et prévenez l'équipe si cela recommence.",
        "Something went wrong on our side; nothing was saved. Try again in a moment, and "
        "tell the team if it happens again.",
    ),
    "idempotency_key_reused": (
        "Cette clé Idempotency-Key a déjà servi pour une autre demande. Utilisez une clé "
        "nouvelle pour chaque demande différente.",
        "This Idempotency-Key was already used for a different request. Use a new key for "
        "each different request.",
    ),
    "unavailable": (
        "Le service ne répond pas pour le moment. Réessayez dans un instant ; si vous veniez "
        "d'enregistrer quelque chose, vérifiez ensuite que c'est bien fait.",
        "The service is not answering for now. Try again in a moment; if you were saving "
        "something, check afterwards that it was done.",
    ),
    "json_only": (
        "L'API prend du JSON : envoyez le corps avec « Content-Type: application/json » "
        "(reçu : {media_type}).",
        "The API takes JSON: send the body with “Content-Type: application/json” "
        "(received: {media_type}).",
    ),
    "cross_site": (
        "Cette demande vient d'un autre site : refusée pour protéger votre compte. Faites-la "
        "depuis Fabbooking lui-même, ou depuis un script avec un jeton d'API.",
        "This request comes from another website: refused to protect your account. Make it "
        "from Fabbooking itself, or from a script with an API token.",
    ),
    "too_large": (
        "Ce que vous envoyez est trop gros. Envoyez moins à la fois (une photo ou un fichier plus "
        "léger, ou en plusieurs fois).",
        "What you are sending is too large. Send less at once (a lighter photo or file, or in "
        "several goes).",
    ),
    "http_error": (
        "La demande n'a pas abouti ({status}).",
        "The request did not succeed ({status}).",
    ),
    # network administration
    "last_admin": (
        "C'est le dernier administrateur du réseau : son rôle ne peut pas changer. Nommez "
        "d'abord une autre personne administrateur, puis recommencez.",
        "This is the network's last admin: their role cannot change. Make someone else an "
        "admin first, then try again.",
    ),
    "animator_needs_site": (
        "Un animateur ou une animatrice travaille dans au moins un lieu : cochez le ou les "
        "lieux.",
        "A facilitator works at one place at least: tick the place or places.",
    ),
}

# Each later domain keeps its own sentences next to its code.
from fabbooking.figures.messages import MESSAGES as _FIGURES  # noqa: E402
from fabbooking.projects.messages import MESSAGES as _PROJECTS  # noqa: E402
from fabbooking.workshops.messages import MESSAGES as _WORKSHOPS  # noqa: E402

for _domain in (_PROJECTS, _WORKSHOPS, _FIGURES):
    assert not set(_domain) & set(MESSAGES), "a refusal code is defined twice"
    MESSAGES.update(_domain)



def pick_language(accept_language: str | None, preferred: str | None = None) -> str:
    """The account's language if known, else the first supported one the browser asks for."""
    if preferred in LANGUAGES:
        return preferred  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def choose_language(query: str | None, cookie: str | None, account: str | None,
                    accept_language: str | None) -> str:
    """An explicit choice (link, then the switcher's cookie), the account's setting, the
    browser's, French. Pages and API answer in the same language this way."""
    for explicit in (query, cookie, account):
        if explicit in LANGUAGES:
            return explicit  # type: ignore[return-value]
    return pick_language(accept_language)


def _format_value(value: object, language: str) -> object:
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y") if language == "fr" else value.isoformat()
    return value


def render(code: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The sentence for ``code`` in ``language``; unknown codes fall back to a generic one."""
    fr, en = MESSAGES.get(code, MESSAGES["http_error"])
    template = en if language == "en" else fr
    values = {k: _format_value(v, language) for k, v in params.items()}
    for key in [k for k in values if k.endswith("_" + language)]:
        values[key[: -len(language) - 1]] = values[key]
    if "reason" in values and code == "site_closed":
        values["reason"] = f" ({values['reason']})" if values["reason"] else ""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template
