"""What refusals of the workshops domain say, French first, English too (merged into
fabbooking.messages.MESSAGES; keys are the API's stable codes)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "workshop_title_needed": (
        "Donnez un titre à l'atelier, par exemple « Initiation impression 3D ».",
        "Give the workshop a title, for example “3D printing for beginners”.",
    ),
    "workshop_title_too_long": (
        "Le titre est trop long : {limit} caractères au plus. Raccourcissez-le.",
        "The title is too long: {limit} characters at most. Shorten it.",
    ),
    "workshop_theme_too_long": (
        "Le thème est trop long : {limit} caractères au plus. Raccourcissez-le.",
        "The theme is too long: {limit} characters at most. Shorten it.",
    ),
    "workshop_date_out_of_range": (
        "Cette date n'est pas possible pour un atelier. Vérifiez le jour et l'année.",
        "This date is not possible for a workshop. Check the day and the year.",
    ),
    "too_many_animators": (
        "Un atelier a au plus {limit} animateurs ou animatrices. Gardez celles et ceux qui "
        "l'animent vraiment.",
        "A workshop has {limit} animators at most. Keep those who really run it.",
    ),
    "too_many_machines": (
        "Un atelier utilise au plus {limit} machines. Gardez celles qui servent vraiment.",
        "A workshop uses {limit} machines at most. Keep those really used.",
    ),
    "workshop_end_before_start": (
        "L'atelier doit finir après son début. Vérifiez l'heure de fin.",
        "The workshop must end after it starts. Check the end time.",
    ),
    "workshop_too_short": (
        "Un atelier dure au moins {minutes} minutes. Vérifiez les heures.",
        "A workshop lasts {minutes} minutes at least. Check the times.",
    ),
    "workshop_too_long": (
        "Un atelier dure au plus {hours} heures. Vérifiez les heures, ou notez plusieurs "
        "ateliers.",
        "A workshop lasts {hours} hours at most. Check the times, or log several workshops.",
    ),
    "workshop_in_past": (
        "Ce moment est déjà passé. Pour un atelier qui a déjà eu lieu, utilisez « Noter un "
        "atelier ».",
        "This time is already over. For a workshop that already took place, use “Log a "
        "workshop”.",
    ),
    "workshop_in_future": (
        "Cet atelier n'a pas encore commencé. Notez la présence une fois qu'il a eu lieu.",
        "This workshop has not started yet. Log the attendance once it has taken place.",
    ),
    "capacity_needed": (
        "Avec les inscriptions, indiquez le nombre de places (1 au moins).",
        "With registration on, give the number of places (1 at least).",
    ),
    "capacity_invalid": (
        "Le nombre de places est un nombre entier entre 1 et {limit}.",
        "The number of places is a whole number from 1 to {limit}.",
    ),
    "capacity_below_registered": (
        "{registered} personnes sont déjà inscrites : le nombre de places ne peut pas être "
        "plus petit. Annulez d'abord des inscriptions si besoin.",
        "{registered} people are already registered: the number of places cannot be lower. "
        "Cancel registrations first if needed.",
    ),
    "unknown_audience": (
        "Le public « {audience} » n'existe pas. Choisissez parmi : {known}.",
        "There is no audience “{audience}”. Choose among: {known}.",
    ),
    "audience_twice": (
        "Le public « {audience} » est compté deux fois. Gardez une seule ligne par public.",
        "The audience “{audience}” is counted twice. Keep one line per audience.",
    ),
    "head_count_invalid": (
        "Le nombre de personnes ({audience}) doit être un nombre entier entre 0 et {limit}.",
        "The number of people ({audience}) must be a whole number from 0 to {limit}.",
    ),
    "first_timers_invalid": (
        "Le nombre de premières venues ({audience}) doit être un nombre entier, 0 ou plus.",
        "The number of first-timers ({audience}) must be a whole number, 0 or more.",
    ),
    "first_timers_over_head_count": (
        "Public « {audience} » : {first_timers} premières venues pour {head_count} personnes, "
        "c'est impossible. Il ne peut pas y avoir plus de premières venues que de personnes.",
        "Audience “{audience}”: {first_timers} first-timers for {head_count} people is impossible. There "
        "cannot be more first-timers than people.",
    ),
    "animator_not_of_site": (
        "La personne n° {account} n'anime pas dans ce lieu. Choisissez les animateurs parmi "
        "l'équipe du lieu.",
        "Person #{account} is not a facilitator of this place. Choose facilitators from the "
        "place's team.",
    ),
    "machine_not_of_site": (
        "La machine n° {machine} n'est pas dans ce lieu. Choisissez les machines du lieu.",
        "Machine #{machine} is not at this place. Choose machines of this place.",
    ),
    "workshop_machine_refused": (
        "Rien n'a été enregistré : la machine « {machine} » ne peut pas être réservée pour "
        "l'atelier. {reason}",
        "Nothing was saved: the machine “{machine}” cannot be held for the workshop. {reason}",
    ),
    "workshop_cancelled": (
        "Cet atelier est annulé.",
        "This workshop is cancelled.",
    ),
    "workshop_not_editable": (
        "Cet atelier est annulé : il ne peut plus changer.",
        "This workshop is cancelled: it cannot change any more.",
    ),
    "workshop_not_cancellable": (
        "Cet atelier a déjà eu lieu et sa présence est notée : il ne peut plus être annulé.",
        "This workshop took place and its attendance is logged: it cannot be cancelled.",
    ),
    "registration_off": (
        "Cet atelier est en accès libre, sans inscription. Venez directement !",
        "This workshop is open to all without registration. Just come!",
    ),
    "registration_closed": (
        "Les inscriptions sont fermées : l'atelier a commencé ou est passé.",
        "Registration is closed: the workshop has started or is over.",
    ),
    "already_registered": (
        "Vous êtes déjà inscrit ou inscrite à cet atelier (ou sur la liste d'attente).",
        "You are already registered for this workshop (or on its waiting list).",
    ),
    "registration_name_needed": (
        "Écrivez le nom de la personne à inscrire.",
        "Write the name of the person to register.",
    ),
    "registration_name_too_long": (
        "Le nom est trop long : {limit} caractères au plus.",
        "The name is too long: {limit} characters at most.",
    ),
    "registration_already_cancelled": (
        "Cette inscription est déjà annulée.",
        "This registration is already cancelled.",
    ),
    "series_frequency_unknown": (
        "Choisissez comment l'atelier revient : chaque semaine, toutes les deux semaines ou "
        "à des dates choisies.",
        "Choose how the workshop comes back: every week, every other week or on chosen dates.",
    ),
    "series_no_dates": (
        "Choisissez au moins une date pour la série.",
        "Choose at least one date for the series.",
    ),
    "series_until_needed": (
        "Indiquez jusqu'à quelle date l'atelier revient.",
        "Give the date until which the workshop comes back.",
    ),
    "series_until_before_start": (
        "La date de fin de la série est avant le premier atelier. Vérifiez les deux dates.",
        "The series ends before its first workshop. Check both dates.",
    ),
    "series_too_many": (
        "Une série compte au plus {limit} ateliers. Choisissez une date de fin plus proche.",
        "A series has {limit} workshops at most. Choose an earlier end date.",
    ),
    "series_too_long": (
        "Une série s'étend sur {days} jours au plus. Choisissez une date de fin plus proche.",
        "A series spans {days} days at most. Choose an earlier end date.",
    ),
    "series_date_in_past": (
        "Le {day} est déjà passé. Gardez seulement des dates à venir.",
        "{day} is already over. Keep only dates to come.",
    ),
    "series_on_conflict_unknown": (
        "Choisissez quoi faire des dates en conflit : tout ou rien, ou les sauter.",
        "Choose what to do with the conflicting dates: all or nothing, or skip them.",
    ),
    "series_conflicts": (
        "Rien n'a été enregistré : {count} date(s) en conflit ({days}). Regardez l'aperçu, "
        "puis sautez ces dates ou changez l'heure ou les machines.",
        "Nothing was saved: {count} date(s) in conflict ({days}). Look at the preview, then "
        "skip those dates or change the time or the machines.",
    ),
    "series_nothing_left": (
        "Rien n'a été enregistré : toutes les dates sont en conflit. Changez l'heure ou les "
        "machines.",
        "Nothing was saved: every date is in conflict. Change the time or the machines.",
    ),
    "series_changed_meanwhile": (
        "Rien n'a été enregistré : entre l'aperçu et l'enregistrement, la machine "
        "« {machine} » a cessé d'être libre le {day}. {reason} Revérifiez l'aperçu de la "
        "série, puis recommencez.",
        "Nothing was saved: between the preview and saving, the machine “{machine}” stopped "
        "being free on {day}. {reason} Check the series' preview again, then start over.",
    ),
    "series_overlap_meanwhile": (
        "Rien n'a été enregistré : une des machines a été réservée entre l'aperçu et "
        "l'enregistrement. Revérifiez l'aperçu de la série, puis recommencez.",
        "Nothing was saved: one of the machines was booked between the preview and saving. "
        "Check the series' preview again, then start over.",
    ),
}

# Plausible values of each message's parameters, named as the code that raises them names them
# (for tests that render every message; see tests/test_workshops_rules.py).
EXAMPLE_PARAMS: dict[str, dict[str, object]] = {
    "workshop_title_too_long": {"limit": 200},
    "workshop_theme_too_long": {"limit": 100},
    "workshop_too_short": {"minutes": 15},
    "workshop_too_long": {"hours": 12},
    "capacity_invalid": {"limit": 500},
    "capacity_below_registered": {"registered": 6},
    "unknown_audience": {"audience": "martians", "known": "children, teens"},
    "audience_twice": {"audience": "teens"},
    "head_count_invalid": {"audience": "adults", "audience_fr": "adultes",
                           "audience_en": "adults", "limit": 10_000},
    "first_timers_invalid": {"audience": "adults", "audience_fr": "adultes",
                             "audience_en": "adults"},
    "first_timers_over_head_count": {"audience": "adults", "audience_fr": "adultes",
                                     "audience_en": "adults", "first_timers": 5, "head_count": 3},
    "animator_not_of_site": {"account": 12},
    "machine_not_of_site": {"machine": 4},
    "workshop_machine_refused": {
        "machine": "Prusa MK4",
        "reason_fr": "Ce créneau est déjà réservé.", "reason_en": "This slot is already booked."},
    "registration_name_too_long": {"limit": 150},
    "too_many_animators": {"limit": 20},
    "too_many_machines": {"limit": 50},
    "series_too_many": {"limit": 52},
    "series_too_long": {"days": 366},
    "series_date_in_past": {"day": "2027-01-06"},
    "series_conflicts": {"count": 2, "days_fr": "06/01/2027, 13/01/2027",
                         "days_en": "2027-01-06, 2027-01-13"},
    "series_changed_meanwhile": {
        "machine": "Prusa MK4", "day": "2027-01-06",
        "reason_fr": "Ce créneau est déjà réservé.", "reason_en": "This slot is already booked."},
}
