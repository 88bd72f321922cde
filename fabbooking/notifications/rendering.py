"""An e-mail's subject, plain text and HTML, from ``templates/notifications/<kind>.txt`` and
``.html``, in the person's language. Moments in the context are datetimes (UTC) shown in
``context["timezone"]`` (the site's), like on the pages."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment

from fabbooking.notifications.kinds import Kind
from fabbooking.web.i18n import current_language, translations


@cache
def environment() -> Environment:
    from fabbooking.web.templating import build_environment

    return build_environment()


def translate(message: str, language: str) -> str:
    return translations(language).gettext(message)


def render(spec: Kind, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of a message of kind ``spec`` in ``language``."""
    token = current_language.set(language)
    try:
        env = environment()
        values = {**context, "kind": spec, "why": translate(spec.label, language)}
        subject_values = {k: v for k, v in values.items() if isinstance(v, str)}
        if "when" not in subject_values and context.get("start_at") is not None:
            from fabbooking.web.formatting import when

            subject_values["when"] = when(context["start_at"], context.get("timezone"))
        subject = " ".join((translate(spec.subject, language) % subject_values).split())[:300]
        text = env.get_template(f"notifications/{spec.name}.txt").render(values)
        html = env.get_template(f"notifications/{spec.name}.html").render(values)
    finally:
        current_language.reset(token)
    return subject, text, html
