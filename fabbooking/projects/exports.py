"""A project as a file to take elsewhere: JSON, and MediaWiki wikitext for local wikis
such as Wiki-Brest. Both carry the licence and the credits (owners and collaborators, by
the name they show in the network)."""

from __future__ import annotations

from typing import Any

from babel.dates import format_date

from fabbooking.projects.markdown import STEP_TOP_HEADING
from fabbooking.projects.tables import Licence
from fabbooking.projects.wikitext import markdown_to_wikitext, wiki_text

LICENCES: dict[str, dict[str, str]] = {
    Licence.cc_by_sa.value: {"name": "CC BY-SA 4.0", "url": "https://creativecommons.org/licenses/by-sa/4.0/deed.fr",
                             "wiki": "{{CC-by-sa-4.0}}"},
    Licence.cc_by.value: {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/deed.fr",
                          "wiki": "{{CC-by-4.0}}"},
    Licence.cc0.value: {"name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/deed.fr",
                        "wiki": "{{CC0}}"},
    Licence.cc_by_nc_sa.value: {"name": "CC BY-NC-SA 4.0",
                                "url": "https://creativecommons.org/licenses/by-nc-sa/4.0/deed.fr",
                                "wiki": "{{CC-by-nc-sa-4.0}}"},
    Licence.all_rights_reserved.value: {"name": "Tous droits réservés", "url": "", "wiki": ""},
}


def licence_facts(code: str) -> dict[str, str]:
    return {"code": code, **LICENCES.get(code, {"name": code, "url": "", "wiki": ""})}


def media_url(base: str, row: dict[str, Any], thumbnail: bool = False) -> str:
    return f"{base}/projects/media/{row['id']}{'/thumb' if thumbnail else ''}"


def _media_json(base: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"], "kind": row["kind"], "content_type": row["content_type"], "size": row["size"],
        "alt": row["alt"], "url": media_url(base, row),
        "thumbnail_url": media_url(base, row, True) if row["thumbnail"] else None,
    }


def as_json(details: dict[str, Any], base: str) -> dict[str, Any]:
    """The project as plain data (what export.json serves)."""
    project, figures = details["project"], details["figures"]
    return {
        "title": project["title"], "slug": project["slug"], "url": f"{base}/projects/{project['slug']}",
        "summary": project["summary"], "body_markdown": project["body"], "status": project["status"],
        "visibility": project["visibility"], "tags": details["tags"],
        "site": details["site"]["name"] if details["site"] else None,
        "licence": licence_facts(project["licence"]),
        "credits": [{"name": m["credit"], "role": m["role"]} for m in details["members"]],
        "created_at": project["created_at"].isoformat(), "updated_at": project["updated_at"].isoformat(),
        "done_at": project["done_at"].isoformat() if project["done_at"] else None,
        "cover": _media_json(base, _full(details, details["cover"]["id"]))
        if details["cover"] else None,
        "steps": [{
            "date": step["happened_on"].isoformat(), "title": step["title"], "body_markdown": step["body"],
            "media": [_media_json(base, m) for m in step["media"]],
        } for step in details["steps"]],
        "files": [_media_json(base, m) for m in details["project_media"]],
        "machine_time": {
            "used_minutes": figures["used_minutes"], "booked_minutes": figures["booked_minutes"],
            "jobs": figures["jobs"], "energy_wh": figures["energy_wh"],
            "material_grams": figures["material_grams"], "material_length_m": figures["material_length_m"],
            "sites": [s["name"] for s in figures["sites"]],
        },
    }


def _full(details: dict[str, Any], media_id: int) -> dict[str, Any]:
    return next(m for m in details["files"] if m["id"] == media_id)


def as_wikitext(details: dict[str, Any], base: str) -> str:
    """The project as the text of a MediaWiki page named after it (MediaWiki shows the page's
    name as its title, so the text has none): laid out as the project page is, and every
    piece of the maker's text escaped, so it shows as written and carries no markup,
    template or link of its own."""
    project, figures = details["project"], details["figures"]
    licence = licence_facts(project["licence"])
    lines: list[str] = []
    if project["summary"]:
        lines += [f"''{wiki_text(project['summary'])}''", ""]
    if details["tags"]:
        lines += ["Mots-clés : " + ", ".join(wiki_text(t) for t in details["tags"]), ""]
    if project["body"]:
        lines += [markdown_to_wikitext(project["body"]).rstrip(), ""]
    if details["steps"]:
        lines += ["== Étapes ==", ""]
    for step in details["steps"]:
        title = wiki_text(step["title"]) if step["title"] else ""
        day = format_date(step["happened_on"], "long", locale="fr")  # as the page shows it, in French
        lines += [f"=== {day}{' — ' + title if title else ''} ===", ""]
        if step["body"]:
            lines += [markdown_to_wikitext(step["body"], top=STEP_TOP_HEADING).rstrip(), ""]
        lines += [_file_line(base, m) for m in step["media"]]
        if step["media"]:
            lines.append("")
    if details["project_media"]:
        lines += ["== Fichiers ==", ""] + [_file_line(base, m) for m in details["project_media"]] + [""]
    lines += ["== Temps machine ==", "",
              f"* Temps d'utilisation : {figures['used_minutes']} min",
              f"* Temps réservé : {figures['booked_minutes']} min",
              f"* Travaux machine : {figures['jobs']}", ""]
    lines += ["== Crédits ==", ""]
    lines += [f"* {wiki_text(m['credit'])}" + (" (collaboration)" if m["role"] == "collaborator" else "")
              for m in details["members"]]
    lines += ["", "== Licence ==", ""]
    if licence["wiki"]:
        lines.append(licence["wiki"])
    link = f"[{licence['url']} {licence['name']}]" if licence["url"] else licence["name"]
    lines += [f"Licence : {link}", "",
              f"Source : [{base}/projects/{project['slug']} Fabbooking]", ""]
    return "\n".join(lines)


def _file_line(base: str, row: dict[str, Any]) -> str:
    label = wiki_text(row["alt"] or row["name"])
    return f"* [{media_url(base, row)} {label}] ({wiki_text(row['name'])}, {_size(row['size'])})"


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} Mo"
    return f"{max(1, round(size / 1024))} ko"
