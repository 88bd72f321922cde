"""What refusals of the figures domain say, French first, English too (merged into
fabbooking.messages.MESSAGES; keys are the API's stable codes)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "figures_bad_month": (
        "Le mois « {value} » ({field}) n'est pas lisible. Écrivez l'année puis le mois, "
        "comme 2026-03.",
        "The month “{value}” ({field}) cannot be read. Write the year then the month, "
        "like 2026-03.",
    ),
    "figures_month_order": (
        "Le mois de début ({first}) est après le mois de fin ({last}). Inversez-les.",
        "The first month ({first}) is after the last month ({last}). Swap them.",
    ),
    "figures_period_too_long": (
        "La période demandée couvre {months} mois ; {max} mois au plus. Demandez une période "
        "plus courte.",
        "The requested period covers {months} months; {max} months at most. Ask for a "
        "shorter period.",
    ),
    "calendar_feed_missing": (
        "Vous n'avez pas encore d'adresse d'agenda. Créez-la d'abord.",
        "You have no calendar address yet. Create one first.",
    ),
}

# Plausible parameters of each message, named as the code that raises it names them (the
# message tests render every sentence with these).
EXAMPLE_PARAMS: dict[str, dict[str, object]] = {
    "figures_bad_month": {"field": "from", "value": "2026-13"},
    "figures_month_order": {"first": "2026-05", "last": "2026-03"},
    "figures_period_too_long": {"months": 72, "max": 60},
}
