"""The MediaWiki export reads as the project page does: what a maker wrote (the demo
projects' texts and hand-written cases), converted to wikitext and read back by a MediaWiki
reader (pandoc's), has the same headings, paragraphs, lists, quotes, tables, links and
emphasis as the page's HTML — with no stray « ! », no title, no skipped heading level, and
apostrophes as apostrophes."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pypandoc
import pytest

from fabbooking.projects import demo
from fabbooking.projects.demo import PROJECTS
from fabbooking.projects.markdown import BODY_TOP_HEADING, STEP_TOP_HEADING, render_markdown
from fabbooking.projects.wikitext import markdown_to_wikitext, wiki_text
from tests.conftest import make_account
from tests.projects_support import media_dir  # noqa: F401

pytestmark = pytest.mark.anyio
STRUCTURE = {"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "table", "tr", "th", "td",
             "a", "strong", "em", "code", "pre", "del", "s", "hr"}
SAME = {"s": "del"}

HAND_WRITTEN = {
    "table": "Avant.\n\n| Pièce | Taille | Note |\n|---|--:|:-:|\n| côté | 20 cm | *bois* |\n| fond | 3 mm | |\n\n"
             "Le paragraphe d'après.",
    "image": "Voici ![le plan de coupe](https://example.org/plan.svg) et ![](https://example.org/x.png).",
    "headings": "# Pourquoi\n\ntexte\n\n### Détail (un niveau sauté)\n\n##### Encore\n\n## Comment\n\n# Ensuite",
    "quote": "> « Il faut mesurer deux fois. »\n>\n> — un animateur\n\n> citation\n> > dans une citation",
    "apostrophes": "L'atelier d'Anaïs, l'**étape** d'aujourd'hui : ''pas d'italique'' ni '''de gras'''.",
    "entities": "R&D, 3 > 2, a = b, &copy; écrit tel quel : &amp;copy; ~ ~~~ a_b \\_\\_NOTOC\\_\\_",
    "lists": "1. un\n2. deux\n   - deux a\n   - deux b\n3. trois\n\n- loin\n\n  suite du même point",
    "code": "Lancer `G28` puis :\n\n```\nG1 X10 [a|b] {{x}}\n\n<b>\n```",
    "links": "[le site](https://wiki-brest.net/) et [écrire](mailto:fab@example.org), ~~barré~~",
    "markup_as_text": "{{modèle}} [[Lien]] <b>gras</b> | cellule\n\n* pas une liste ici ?\n\n= pas un titre =",
    "line_starts": "\\- tiret\n\n\\# dièse\n\n: deux-points\n\n; point-virgule\n\n! point d'exclamation",
}


class Outline(HTMLParser):
    """The structure a reader sees: structural tags (with links' targets) and the words
    between them, whitespace squeezed; paragraphs and line breaks are not told apart."""

    def __init__(self, entities_in_pre: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[str] = []
        self._text = ""
        self._in_pre = False
        self._entities_in_pre = entities_in_pre

    def _flush(self) -> None:
        words = re.sub(r"\s+", " ", self._text).strip()
        if words:
            self.items.append(words)
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in STRUCTURE:
            self._flush()
            href = dict(attrs).get("href") if tag == "a" else None
            self.items.append(f"<{SAME.get(tag, tag)}{' ' + href if href else ''}>")
            self._in_pre = self._in_pre or tag == "pre"
        elif tag in ("p", "br"):  # a list item's second paragraph is a line break on the wiki
            self._text += " "

    def handle_endtag(self, tag: str) -> None:
        if tag in STRUCTURE:
            self._flush()
            self.items.append(f"</{SAME.get(tag, tag)}>")
            self._in_pre = self._in_pre and tag != "pre"
        elif tag == "p":
            self._text += " "

    def handle_data(self, data: str) -> None:
        self._text += html.unescape(data) if self._in_pre and self._entities_in_pre else data


def outline(page: str, entities_in_pre: bool = False) -> list[str]:
    parser = Outline(entities_in_pre)
    parser.feed(page)
    parser.close()
    parser._flush()
    return parser.items


def wiki_outline(wikitext: str) -> list[str]:
    """What a wiki shows. Pandoc reads <pre> as raw text where MediaWiki reads entities in it
    (as in <nowiki>), so entities in <pre> are read as MediaWiki does."""
    return outline(pypandoc.convert_text(wikitext, "html", format="mediawiki"), entities_in_pre=True)


def demo_texts() -> list[tuple[str, str, int]]:
    texts = []
    for plan in PROJECTS:
        texts.append((f"{plan['title']} (texte)", plan["body"], BODY_TOP_HEADING))
        texts += [(f"{plan['title']} — {step[1]}", step[2], STEP_TOP_HEADING) for step in plan["steps"]]
    return texts


CASES = demo_texts() + [(name, text, BODY_TOP_HEADING) for name, text in HAND_WRITTEN.items()]


@pytest.mark.parametrize(("name", "text", "top"), CASES, ids=[case[0] for case in CASES])
def test_the_wiki_shows_what_the_page_shows(name, text, top):
    page = outline(render_markdown(text, top))
    wikitext = markdown_to_wikitext(text, top)
    wiki = wiki_outline(wikitext)
    assert wiki == page, wikitext


def test_a_markdown_image_is_a_link_with_its_words_and_no_stray_exclamation_mark():
    wikitext = markdown_to_wikitext(HAND_WRITTEN["image"])
    assert wikitext == ("Voici [https://example.org/plan.svg le plan de coupe] et "
                        "[https://example.org/x.png https://example.org/x.png].\n")
    assert "!" not in render_markdown(HAND_WRITTEN["image"])


def test_a_link_the_wiki_cannot_follow_is_its_words():
    assert markdown_to_wikitext("[local](/projects/x) et [là](ftp://example.org/)") == "local et là\n"


def test_tables_are_wikitables_and_the_next_paragraph_stays_apart():
    wikitext = markdown_to_wikitext(HAND_WRITTEN["table"])
    assert '{| class="wikitable"\n|-\n! Pièce\n! Taille\n! Note\n|-\n| côté\n| 20 cm\n| \'\'bois\'\'\n' in wikitext
    assert wikitext.endswith("|}\n\nLe paragraphe d'après.\n")


def test_headings_start_at_the_level_given_and_never_skip_one():
    assert re.findall(r"^(=+) (.*?) =+$", markdown_to_wikitext(HAND_WRITTEN["headings"]), re.M) == [
        ("==", "Pourquoi"), ("===", "Détail (un niveau sauté)"), ("====", "Encore"), ("===", "Comment"), ("==", "Ensuite")]
    step = markdown_to_wikitext("# Réglages\n\n### Vitesse", top=STEP_TOP_HEADING)
    assert re.findall(r"^(=+) ", step, re.M) == ["====", "====="]


def test_quotes_stay_quotes():
    assert markdown_to_wikitext("> citation").startswith("<blockquote>\ncitation\n</blockquote>")


def test_plain_characters_stay_plain_and_markup_stays_inert():
    wikitext = markdown_to_wikitext(HAND_WRITTEN["apostrophes"] + "\n\n" + HAND_WRITTEN["entities"])
    assert "L'atelier d'Anaïs, l''''étape''' d'aujourd'hui" not in wikitext  # no bold made of an apostrophe
    assert "L'atelier d'Anaïs, l&#39;'''étape''' d'aujourd'hui" in wikitext
    assert "&#39;&#39;pas d'italique&#39;&#39; ni &#39;&#39;&#39;de gras&#39;&#39;&#39;" in wikitext
    assert "R&D, 3 > 2, a = b, © écrit tel quel : &amp;copy; ~ &#126;&#126;&#126; a_b &#95;&#95;NOTOC&#95;&#95;" \
        in wikitext
    assert wiki_text("'cité'") == "&#39;cité&#39;" and wiki_text("=titre=") == "&#61;titre&#61;"
    assert wiki_text("* pas une liste") == "&#42; pas une liste"


async def test_every_demo_projects_wiki_page_reads_as_its_page(client, db, media_dir):
    await demo.load({name: await make_account(name) for name in ("maiwenn", "yannick", "karim", "lea")})
    for plan in PROJECTS:
        slug = next(p["slug"] for p in (await client.get("/api/v1/projects")).json()["items"]
                    if p["title"] == plan["title"])
        wikitext = (await client.get(f"/projects/{slug}/export.wiki")).text
        levels = [len(marks) for marks in re.findall(r"^(=+) .* =+$", wikitext, re.M)]
        assert levels[0] == 2 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels
        assert plan["title"] not in wikitext.split("== Étapes ==")[0]  # the wiki page's name is the title
        assert "&#39;" not in wikitext and "&#33;" not in wikitext
        wiki = wiki_outline(wikitext)  # the whole page as a wiki shows it
        page = (await client.get(f"/projects/{slug}")).text
        for text, top in [(plan["body"], BODY_TOP_HEADING)] + [(step[2], STEP_TOP_HEADING) for step in plan["steps"]]:
            shown = outline(render_markdown(text, top))
            assert render_markdown(text, top) in page
            assert " ".join(shown) in " ".join(wiki), (shown, wikitext)  # paragraphs around may join
