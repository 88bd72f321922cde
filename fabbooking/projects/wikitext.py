"""What makers write, as MediaWiki wikitext for Wiki-Brest and other local wikis: shown
there as the project page shows it, and inert — no markup, template, tag or link of theirs
gets through. Pure: no I/O."""

from __future__ import annotations

import re

from markdown_it.token import Token

from fabbooking.projects.markdown import BODY_TOP_HEADING, MARKDOWN, clean_body, image_label, shift_headings

# Markup wherever they stand: tags, links, templates, table cells.
_ALWAYS = {"<": "&lt;", "[": "&#91;", "]": "&#93;", "{": "&#123;", "}": "&#125;", "|": "&#124;"}
# Plain alone, markup in runs ('' italics, ~~~~ signatures, __TOC__): escaped next to the same
# character, or at either end of the text, where the wikitext around it could make a run.
_IN_RUNS = {"'": "&#39;", "~": "&#126;", "_": "&#95;"}
# Markup at the start of a line: lists, definitions, indents, rules, table header cells, and
# a space, which starts preformatted text.
_LINE_START = {ch: f"&#{ord(ch)};" for ch in "*#:;-! "}
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_LINK_TARGET = re.compile(r"(https?://|mailto:)[^\s\[\]<>\"{}|']+$")


def _escape(text: str) -> str:
    """One line of text, inert in the middle of a line of wikitext."""
    text = clean_body(text, 100_000).replace("\n", " ").replace("\t", " ")
    last = len(text) - 1
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch in _ALWAYS:
            out.append(_ALWAYS[ch])
        elif ch in _IN_RUNS and (index in (0, last) or text[index - 1] == ch or text[index + 1] == ch):
            out.append(_IN_RUNS[ch])
        elif ch == "=" and index in (0, last):  # a heading needs = at both ends of a line
            out.append("&#61;")
        elif ch == "&" and _ENTITY.match(text, index):
            out.append("&amp;")
        else:
            out.append(ch)
    return "".join(out)


def _line_start_safe(line: str) -> str:
    return _LINE_START[line[0]] + line[1:] if line and line[0] in _LINE_START else line


def wiki_text(text: str) -> str:
    """Plain text that MediaWiki shows as written, on one line: no markup, template, tag,
    link, magic word or list sneaks in. Characters MediaWiki leaves alone (an apostrophe in
    « l'atelier », « R&D », « > ») stay as they are."""
    return _line_start_safe(_escape(text))


def markdown_to_wikitext(text: str, top: int = BODY_TOP_HEADING) -> str:
    """The Markdown a maker wrote, as MediaWiki wikitext: headings (the first at level
    ``top``, none skipped, as on the page), paragraphs, lists, block quotes, tables, code,
    bold, italics, strikethrough, and http(s)/mailto links (images become links, as on the
    page); every piece of text escaped."""
    out: list[str] = []
    lists: list[str] = []
    item_has_text = False
    in_cell = False
    codes: list[str] = []  # put back after blank lines are squeezed, which code keeps
    tokens = shift_headings(MARKDOWN.parse(text or ""), top)
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("heading_open", "heading_close"):
            marks = "=" * int(token.tag[1])
            out.append(f"\n{marks} " if kind == "heading_open" else f" {marks}\n")
        elif kind in ("bullet_list_open", "ordered_list_open"):
            lists.append("*" if kind == "bullet_list_open" else "#")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            out.append("" if lists else "\n")  # a blank line would end the outer list
        elif kind == "list_item_open":
            out.append("\n" + "".join(lists) + " ")
            item_has_text = False
        elif kind == "paragraph_open" and lists:
            out.append("<br />" if item_has_text else "")
        elif kind == "paragraph_close" and not lists:
            out.append("\n\n")
        elif kind == "blockquote_open":
            out.append("\n<blockquote>\n")
        elif kind == "blockquote_close":
            out.append("\n</blockquote>\n")
        elif kind == "table_open":
            out.append('\n{| class="wikitable"\n')
        elif kind == "table_close":
            out.append("|}\n\n")
        elif kind == "tr_open":
            out.append("|-\n")
        elif kind in ("th_open", "td_open"):
            out.append("! " if kind == "th_open" else "| ")
            in_cell = True
        elif kind in ("th_close", "td_close"):
            out.append("\n")
            in_cell = False
        elif kind in ("fence", "code_block"):
            codes.append(_pre_text(token.content.rstrip("\n")))
            out.append(f"\n<pre>\x00{len(codes) - 1}\x00</pre>\n")
        elif kind == "hr":
            out.append("\n----\n")
        elif kind == "inline":
            line = _inline_wikitext(token.children or [])
            if in_cell:  # "!!" and "||" start a new cell ("|" is always escaped)
                line = line.replace("!!", "&#33;&#33;")
            elif not lists and index and tokens[index - 1].type == "paragraph_open":
                line = _line_start_safe(line)
            out.append(line)
            item_has_text = item_has_text or bool(lists)
    wikitext = re.sub(r"\n{3,}", "\n\n", "".join(out))
    wikitext = re.sub(r"\n+(</blockquote>)", r"\n\1", wikitext).strip() + "\n"
    return re.sub("\x00([0-9]+)\x00", lambda found: codes[int(found.group(1))], wikitext)


def _pre_text(code: str) -> str:
    """Code as written inside <pre>, where MediaWiki reads no markup (as in <nowiki>) but
    still reads entities and the closing tag; ~~~ would still sign on saving."""
    code = _ENTITY.sub("&amp;", clean_body(code, 100_000)).replace("<", "&lt;")
    return re.sub("~(?=~)|(?<=~)~", "&#126;", code)


def _link(target: str, label: str) -> str:
    """An external link when the target is one MediaWiki takes as written (a run of __ or
    ~~~ would be a magic word or a signature even there), else just its words."""
    if not _LINK_TARGET.match(target) or "__" in target or "~~~" in target:
        return label
    return f"[{target} {label or target}]"


def _inline_wikitext(children: list[Token]) -> str:
    parts: list[str] = []
    link: str | None = None
    label: list[str] = []
    marks = {"strong_open": "'''", "strong_close": "'''", "em_open": "''", "em_close": "''",
             "s_open": "<s>", "s_close": "</s>", "softbreak": " ", "hardbreak": "<br />"}
    for child in children:
        kind = child.type
        target = label if link is not None else parts
        if kind == "text":
            target.append(_escape(child.content))
        elif kind == "code_inline":
            target.append("<code>" + _escape(child.content) + "</code>")
        elif kind in marks:
            target.append(marks[kind])
        elif kind == "image":
            words = _escape(image_label(child))
            target.append(words if link is not None else _link(str(child.attrGet("src") or ""), words))
        elif kind == "link_open":
            link = str(child.attrGet("href") or "")
            label = []
        elif kind == "link_close":
            parts.append(_link(link or "", "".join(label)))
            link = None
    return "".join(parts)
