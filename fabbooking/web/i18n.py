"""Languages of the web pages: French first, English too.

Templates and web code write their text in French (``_("Réserver")``); the English
catalogue (``fabbooking/locale/en/LC_MESSAGES/messages.po``, compiled to ``.mo``) translates
it. A missing English translation shows the French text rather than nothing.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGE_COOKIE = "lang"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}

current_language: ContextVar[str] = ContextVar("current_language", default="fr")


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == "fr":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


def _(message: str, **values: object) -> str:
    """Translate ``message`` into the current request's language, then fill ``%(name)s``."""
    text = translations(current_language.get()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    return text % {"num": n, **values}
