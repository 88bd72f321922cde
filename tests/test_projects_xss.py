"""No script reaches a reader: a corpus of classic XSS payloads goes into every text field
of a project (title, summary, body, tags, step title and body, file names, alt texts, the
credited name) and the page, the API's HTML and the wikitext export stay inert."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from fabbooking.accounts.tables import Account
from fabbooking.projects.markdown import clean_file_name, render_markdown
from fabbooking.projects.wikitext import wiki_text
from tests.projects_support import binary_stl, media_dir, png, upload  # noqa: F401
from tests.web_helpers import browser_login

pytestmark = pytest.mark.anyio

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    "<svg><script>alert(4)</script></svg>",
    '"><script>alert(5)</script>',
    "'><img src=x onerror=alert(6)>",
    "<a href=\"javascript:alert(7)\">clic</a>",
    "[clic](javascript:alert(8))",
    "[clic](JaVaScRiPt:alert(9))",
    "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMCk8L3NjcmlwdD4=)",
    "![x](javascript:alert(11))",
    '![x" onerror="alert(12)](https://example.org/x.png)',
    "[clic](&#106;avascript:alert(13))",
    "&lt;script&gt;alert(14)&lt;/script&gt;",
    "<iframe src=javascript:alert(15)>",
    "<body onload=alert(16)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(17)>",
    "\u202e<script>alert(18)</script>\u200b",
    "<details open ontoggle=alert(19)>",
    "<a href='vbscript:msgbox(20)'>x</a>",
    "{{#invoke:x|y}} [[Special:Logout]] __NOTOC__ <nowiki></nowiki> ''italique''",
    "<style>body{display:none}</style><meta http-equiv=refresh content=0;url=javascript:alert(22)>",
]
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "form", "body"}


class Inspector(HTMLParser):
    """Collect what could run: tags, event handlers, script URLs, inline styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_main = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.in_main += 1
        values = dict(attrs)
        if tag == "script" and values.get("src") != "/static/htmx.min.js":
            self.problems.append(f"<script {attrs}>")
        if self.in_main and tag in DANGEROUS_TAGS - {"form"}:
            self.problems.append(f"<{tag}> in main")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("meta refresh")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}={value}")
            if name == "style":
                self.problems.append(f"{tag} style={value}")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme.startswith(("javascript:", "vbscript:")) or (
                        scheme.startswith("data:") and not (tag == "link" and value == "data:,")):
                    self.problems.append(f"{tag} {name}={value}")
        if self.in_main and tag == "img" and not (values.get("src") or "").startswith("/projects/media/"):
            self.problems.append(f"img src={values.get('src')}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.in_main -= 1


def inert(html: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(html)
    return inspector.problems


def test_markdown_renderer_keeps_every_payload_inert():
    for payload in PAYLOADS:
        html = render_markdown(f"{payload}\n\n- {payload}\n\n> {payload}\n\n# {payload}")
        assert not inert(f"<main>{html}</main>"), (payload, html)
        assert 'rel="noopener nofollow ugc"' in render_markdown("[a](https://example.org)")


def test_file_names_lose_folders_controls_and_bidi_overrides():
    assert clean_file_name("../../etc/passwd") == "passwd"
    assert clean_file_name("C:\\temp\\photo.jpg") == "photo.jpg"
    assert clean_file_name("fac\u202eture\u0000.jpg", "png") == "facture.png"
    assert clean_file_name("") == "fichier"
    assert len(clean_file_name("a" * 500 + ".stl")) == 120 and clean_file_name("a" * 500 + ".stl").endswith(".stl")


def test_wiki_text_escapes_markup():
    escaped = wiki_text("{{x}} [[y]] <b> ''z'' __NOTOC__ | ~~~~")
    assert not re.search(r"[{}\[\]<|']|__|~~", escaped)


async def test_every_field_of_a_project_stays_inert_on_page_api_and_exports(client, world, media_dir):
    headers = world.auth("maker")
    payload_text = "\n\n".join(PAYLOADS)
    await Account.update({Account.display_name: PAYLOADS[1]}).where(Account.id == world.ids["maker"])
    created = await client.post("/api/v1/projects", headers=headers, json={
        "title": PAYLOADS[0] + " lampe", "summary": PAYLOADS[2], "body": payload_text,
        "tags": PAYLOADS[:10]})
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for index, payload in enumerate(PAYLOADS):
        step = await client.post(f"/api/v1/projects/{slug}/steps", headers=headers,
                                 json={"happened_on": "2026-03-14", "title": payload, "body": payload_text})
        assert step.status_code == 201
        if index < 6:
            name = payload[:60] + ".png"
            sent = await upload(client, world, slug, name, png(), step_id=step.json()["id"], alt=payload)
            assert sent.status_code == 201, sent.text
            assert "/" not in sent.json()["name"] and "\u202e" not in sent.json()["name"]
            await upload(client, world, slug, payload[:60] + ".stl", binary_stl(), step_id=step.json()["id"])
    await browser_login(client, "maker")
    for path in (f"/projects/{slug}", "/projects", "/projects?q=lampe", "/me/projects", f"/projects/{slug}/edit",
                 f"/projects/{slug}/members", f"/projects/{slug}/steps/new", f"/projects/{slug}/bookings"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert not inert(response.text), (path, inert(response.text)[:5])
    api = (await client.get(f"/api/v1/projects/{slug}")).json()
    for html in [api["body_html"]] + [s["body_html"] for s in api["steps"]]:
        assert not inert(f"<main>{html}</main>")

    exported = await client.get(f"/api/v1/projects/{slug}/export.json")
    assert exported.headers["content-type"].startswith("application/json")
    assert exported.headers["content-disposition"].startswith("attachment")
    assert exported.headers["x-content-type-options"] == "nosniff"
    assert json.loads(exported.content)["title"] == created.json()["title"]

    wiki = (await client.get(f"/api/v1/projects/{slug}/export.wiki")).text
    for line in wiki.splitlines():
        assert not re.search(r"<(?!/?(pre|code|blockquote|s)>|br />)", line), line
        assert "[[" not in line and "__" not in line, line
        assert "{{" not in line or line == "{{CC-by-sa-4.0}}", line
        for link in re.findall(r"\[([^ \]]*)", line):
            assert link.startswith(("http://127.0.0.1:8000/", "https://")), line
        assert "javascript:" not in line.lower() or "[" not in line, line
