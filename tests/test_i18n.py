"""French first, English complete: every text of the pages has an English translation,
and the compiled catalogue (.mo) says the same as its source (.po)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "fabbooking" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def source_messages() -> set[str]:
    found: set[str] = set()
    for folder, method, options in (
        ("fabbooking", "python", {}),
        ("templates", "jinja2", {"extensions": "jinja2.ext.i18n"}),
    ):
        pattern = "**.py" if method == "python" else "**.html"
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[(pattern, method)], options_map={pattern: options},
            keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def english_catalogue():
    with open(LOCALE / "en" / "LC_MESSAGES" / "messages.po", "rb") as source:
        return read_po(source)


def test_every_page_text_has_an_english_translation():
    catalogue = english_catalogue()
    missing = sorted(m for m in source_messages()
                     if m not in catalogue or not catalogue[m].string or catalogue[m].fuzzy)
    assert not missing, "translate these in fabbooking/locale/en/LC_MESSAGES/messages.po:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders():
    for message in english_catalogue():
        if message.id and isinstance(message.id, str):
            assert set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), message.id


def test_compiled_catalogue_matches_its_source():
    compiled = Translations.load(str(LOCALE), ["en"], domain="messages")
    stale = [m.id for m in english_catalogue()
             if m.id and isinstance(m.id, str) and compiled.gettext(m.id) != m.string]
    assert not stale, "run: pybabel compile -d fabbooking/locale -D messages"
