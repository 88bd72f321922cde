"""What makers write, made safe to show: Markdown to sanitised HTML, file names cleaned
before they are stored, and text made inert in MediaWiki wikitext. Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata

import nh3
from markdown_it import MarkdownIt

# Raw HTML in Markdown is never rendered (html=False); images are not Markdown's job here
# (photos go through uploads, re-encoded), so `![x](y)` reads as a link.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}) \
    .enable(["table", "strikethrough"]).disable(["image"])

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener nofollow ugc"
MAX_FILE_NAME = 120


def render_markdown(text: str) -> str:
    """Markdown → HTML safe to put in a page as is: only the tags and attributes above,
    links limited to http, https and mailto (relative ones stay), every link marked
    rel="noopener nofollow ugc". Headings in the text are shifted down so the page's own
    outline stays in order (a text's ``#`` becomes ``<h3>``)."""
    html = _MARKDOWN.render(text or "")
    html = re.sub(r"<(/?)h([1-6])>", lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}>", html)
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


_WIKI_ENTITIES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;", "{": "&#123;",
    "}": "&#125;", "|": "&#124;", "'": "&#39;", "=": "&#61;", "~": "&#126;", "_": "&#95;",
}
_WIKI_LINE_START = re.compile(r"(^|\n)([*#:;\-!])")


def wiki_text(text: str) -> str:
    """Plain text that MediaWiki shows as written: no markup, template, tag, link, magic
    word or list sneaks in."""
    escaped = "".join(_WIKI_ENTITIES.get(ch, ch) for ch in clean_body(text, 100_000))
    return _WIKI_LINE_START.sub(lambda m: f"{m.group(1)}&#{ord(m.group(2))};", escaped)


def markdown_to_wikitext(text: str) -> str:
    """The Markdown a maker wrote, as MediaWiki wikitext: headings, paragraphs, lists,
    bold, italics, code and http(s) links; every piece of text escaped with wiki_text."""
    tokens = _MARKDOWN.parse(text or "")
    out: list[str] = []
    lists: list[str] = []
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            level = min(int(token.tag[1]) + 2, 6)
            out.append("\n" + "=" * level + " ")
        elif kind == "heading_close":
            level = min(int(token.tag[1]) + 2, 6)
            out.append(" " + "=" * level + "\n")
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lists.append("*" if kind == "bullet_list_open" else "#")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            out.append("\n")
        elif kind == "list_item_open":
            out.append("\n" + "".join(lists) + " ")
        elif kind == "paragraph_close" and not lists:
            out.append("\n\n")
        elif kind in ("fence", "code_block"):
            out.append("\n<pre>" + wiki_text(token.content).replace("\n", "&#10;") + "</pre>\n")
        elif kind == "hr":
            out.append("\n----\n")
        elif kind == "inline":
            out.append(_inline_wikitext(token.children or []))
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip() + "\n"


def _inline_wikitext(children: list) -> str:
    parts: list[str] = []
    link: str | None = None
    label: list[str] = []
    for child in children:
        kind = child.type
        target = label if link is not None else parts
        if kind == "text":
            target.append(wiki_text(child.content).replace("\n", " "))
        elif kind == "code_inline":
            target.append("<code>" + wiki_text(child.content) + "</code>")
        elif kind in ("softbreak", "hardbreak"):
            target.append(" ")
        elif kind in ("strong_open", "strong_close"):
            target.append("'''")
        elif kind in ("em_open", "em_close"):
            target.append("''")
        elif kind == "link_open":
            href = child.attrGet("href") or ""
            link = href if re.match(r"https?://[^\s\[\]<>\"{}|]+$", href) else ""
            label = []
        elif kind == "link_close":
            text = "".join(label)
            parts.append(f"[{link} {text}]" if link else text)
            link = None
    return "".join(parts)
