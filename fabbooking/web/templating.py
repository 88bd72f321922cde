"""The Jinja2 environment of the web pages: i18n, date filters, autoescaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig
from markupsafe import Markup

from fabbooking.usage.demo_live import banner_shown
from fabbooking.web.formatting import FILTERS
from fabbooking.web.i18n import LANGUAGE_NAMES, current_language, translations

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


def _gettext(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


# What ``_("…")`` without variables gives, per language and escaping: Jinja's newstyle
# gettext makes the translation Markup and formats it (``%%`` → ``%``) on every call, a quarter
# of a page's rendering; the result never changes for a given string and language.
_PLAIN: dict[tuple[str, bool, str], str] = {}


@pass_context
def _kept_gettext(context: Context, string: str, /, **variables: Any) -> str:
    """Jinja's newstyle ``gettext`` (jinja2.ext._make_new_gettext), its result kept when the
    call has no variables."""
    autoescape = context.eval_ctx.autoescape
    if not variables:
        key = (current_language.get(), autoescape, string)
        found = _PLAIN.get(key)
        if found is None:
            found = _PLAIN[key] = (Markup(_gettext(string)) if autoescape else _gettext(string)) % {}
        return found
    translated = _gettext(string)
    return (Markup(translated) if autoescape else translated) % variables


def build_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the package: checking every file's mtime on every render cost
        # 5 % of a page. Restart the server to see a template change.
        auto_reload=False,
    )
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    environment.globals.update(gettext=_kept_gettext, _=_kept_gettext)
    environment.filters.update(FILTERS)
    environment.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    environment.globals["current_language"] = current_language.get
    environment.globals["demo_machines_simulated"] = banner_shown
    return environment


def template_config() -> TemplateConfig:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(build_environment()))
