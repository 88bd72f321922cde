"""What makers write, made safe to show: Markdown to sanitised HTML, and file names cleaned
before they are stored. (The same Markdown as MediaWiki wikitext: wikitext.py.) Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

# Raw HTML in Markdown is never rendered (html=False). Images are not Markdown's job here
# (photos go through uploads, re-encoded), so `![x](y)` shows as a link to y labelled x.
MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}) \
    .enable(["table", "strikethrough"])
BODY_TOP_HEADING = 2  # a project's text sits under the page title (h1)
STEP_TOP_HEADING = 4  # a step's text sits under the step's own heading (h3)


def image_label(image: Token) -> str:
    """The words of an image (its alt text), or its address when it has none."""
    words = "".join(child.content for child in image.children or [] if child.type in ("text", "code_inline"))
    return words.strip() or str(image.attrGet("src") or "")


def _image_as_link(_renderer: object, tokens: list[Token], index: int, _options: object, _env: object) -> str:
    image = tokens[index]
    return f'<a href="{escapeHtml(str(image.attrGet("src") or ""))}">{escapeHtml(image_label(image))}</a>'


MARKDOWN.add_render_rule("image", _image_as_link)


def shift_headings(tokens: list[Token], top: int) -> list[Token]:
    """Headings made to fit under a page's outline: the first one (and every one at its
    level) at ``top``, each deeper one at most one level below the one it follows, so the
    outline never skips a level however the maker numbered their ``#``s (capped at 6)."""
    open_levels: list[int] = []
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        written = int(token.tag[1])
        while open_levels and open_levels[-1] >= written:
            open_levels.pop()
        open_levels.append(written)
        token.tag = tokens[index + 2].tag = f"h{min(top + len(open_levels) - 1, 6)}"  # open, inline, close
    return tokens

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener nofollow ugc"
MAX_FILE_NAME = 120


def render_markdown(text: str, top: int = BODY_TOP_HEADING) -> str:
    """Markdown → HTML safe to put in a page as is: only the tags and attributes above,
    links limited to http, https and mailto (relative ones stay), every link marked
    rel="noopener nofollow ugc", images as links. Headings fit the page's outline
    (shift_headings: the text's first heading is ``<h{top}>``)."""
    env: dict = {}
    tokens = shift_headings(MARKDOWN.parse(text or "", env), top)
    html = MARKDOWN.renderer.render(tokens, MARKDOWN.options, env)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel=LINK_REL, strip_comments=True,
                     clean_content_tags={"script", "style"})


def clean_text(text: str, limit: int) -> str:
    """One line of plain text: no control or bidi-override characters, spaces squeezed,
    cut at ``limit`` characters. (Jinja escapes it when shown.)"""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(" " if ch in "\t\r\n" else ch for ch in text
                   if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\t\r\n")
    return re.sub(r"\s+", " ", text).strip()[:limit]


def clean_body(text: str, limit: int) -> str:
    """Several lines of text (Markdown): control and bidi-override characters removed,
    line breaks kept."""
    text = unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n"))
    return "".join(ch for ch in text
                   if unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\n\t")[:limit]


def clean_file_name(name: str, extension: str | None = None) -> str:
    """The name a file is shown and downloaded under: no folder part, no control or bidi
    characters, no leading dots, at most 120 characters; ``extension`` (found from the
    content) replaces whatever the name claimed."""
    name = re.split(r"[/\\]", name or "")[-1]
    name = clean_text(name[-4000:], 4000).strip(" .") or "fichier"
    name = re.sub(r'[<>:"|?*]', "_", name)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if extension is not None:
        ext = extension
    stem = stem.strip(" .") or "fichier"
    ext = ext[:10]
    room = MAX_FILE_NAME - (len(ext) + 1 if ext else 0)
    return f"{stem[:room]}.{ext}" if ext else stem[:MAX_FILE_NAME]
