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
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def source_messages() -> set[str]:
    found: set[str] = set()
    for folder, method, options, pattern in (
        ("fabbooking", "python", {}, "**.py"),
        ("templates", "jinja2", {"extensions": "jinja2.ext.i18n"}, "**.html"),
        ("templates", "jinja2", {"extensions": "jinja2.ext.i18n"}, "**.txt"),  # e-mails
    ):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[(pattern, method)], options_map={pattern: options},
            keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
        ):
            found.add(message if isinstance(message, str) else message)
    return found


def english_catalogue():
    with open(LOCALE / "en" / "LC_MESSAGES" / "messages.po", "rb") as source:
        return read_po(source)


def _translated(catalogue, message) -> bool:
    key = message if isinstance(message, str) else message[0]
    entry = catalogue.get(key)
    if entry is None or entry.fuzzy:
        return False
    strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    return all(strings)


def test_every_page_text_has_an_english_translation():
    catalogue = english_catalogue()
    missing = sorted(str(m) for m in source_messages() if not _translated(catalogue, m))
    assert not missing, "translate these in fabbooking/locale/en/LC_MESSAGES/messages.po:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders():
    for message in english_catalogue():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if ids[0]:
            for text in strings:
                assert set(PLACEHOLDER.findall(ids[-1])) == set(PLACEHOLDER.findall(text)), message.id


def test_compiled_catalogue_matches_its_source():
    compiled = Translations.load(str(LOCALE), ["en"], domain="messages")
    stale = [m.id for m in english_catalogue()
             if m.id and isinstance(m.id, str) and compiled.gettext(m.id) != m.string]
    stale += [m.id for m in english_catalogue() if m.id and isinstance(m.id, tuple)
              for n, text in ((1, m.string[0]), (2, m.string[1]))
              if compiled.ngettext(m.id[0], m.id[1], n) != text]
    assert not stale, "run: pybabel compile -d fabbooking/locale -D messages"



def test_kept_translations_render_exactly_as_jinja_newstyle_gettext_does():
    """The templates' ``_()`` keeps its result for calls without variables: the same text,
    escaping and ``%%`` handling as Jinja's own newstyle gettext, in each language."""
    from jinja2.ext import _gettext_alias, _make_new_gettext

    from fabbooking.web import templating
    from fabbooking.web.i18n import current_language

    ours = templating.build_environment()
    jinjas = templating.build_environment()
    jinjas.globals.update(gettext=_make_new_gettext(templating._gettext), _=_gettext_alias)
    calls = ('{{ _("Réserver") }}|{{ _("Mes réservations") }}|{{ _("100 %% libre") }}|'
             '{{ _("<b>%(who)s</b>", who="<i>x</i>") }}|{{ gettext("Se connecter") }}|'
             '{% trans %}Bonjour{% endtrans %}|{{ _("%(string)s et %(context)s", string="a", context="b") }}')
    source = calls + "{% autoescape false %}" + calls + "{% endautoescape %}"
    for language, bookings in (("fr", "Mes réservations"), ("en", "My bookings")):
        token = current_language.set(language)
        try:
            expected = jinjas.from_string(source).render()
            assert bookings in expected and "100 % libre" in expected
            assert "&lt;i&gt;x&lt;/i&gt;" in expected and "<b><i>x</i></b>" in expected
            for _ in range(2):  # the first render keeps the results, the second reads them
                assert ours.from_string(source).render() == expected
        finally:
            current_language.reset(token)
