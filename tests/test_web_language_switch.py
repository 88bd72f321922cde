"""The language switch brings the person back to the very page they were on — its query
too (the chosen slot, the week, the person at the desk) — and never to another site."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from fabbooking.web.rendering import safe_next
from tests.conftest import local_slot
from tests.web_helpers import browser_login, csrf

pytestmark = pytest.mark.anyio


async def switch(client, lang: str, next_url: str, page: str = "/", **headers: str):
    token = await csrf(client, page)
    return await client.post("/language", data={"_csrf_token": token, "lang": lang, "next": next_url},
                             headers=headers)


def switch_target(html: str) -> str:
    """The ``next`` the header's language form carries on a page."""
    found = re.search(r'<input type="hidden" name="next" value="([^"]*)">', html)
    assert found, "the page has a language switch"
    return html_lib.unescape(found.group(1))


async def test_the_booking_form_comes_back_with_its_slot_in_the_other_language(client, world):
    await browser_login(client, "maker")
    start, _ = local_slot(2, "10:00")
    form_url = f"/machines/{world.ids['printer']}/book?start={start.replace('+', '%2B')}"
    page = (await client.get(form_url)).text
    assert switch_target(page) == form_url

    response = await switch(client, "en", switch_target(page), page=form_url)
    assert response.status_code == 303 and response.headers["location"] == form_url
    english = (await client.get(response.headers["location"])).text
    assert "Confirm the booking" in english and "no longer free" not in english


async def test_the_week_and_the_desks_person_survive_the_switch(client, world):
    await browser_login(client, "animator")
    for url in (f"/machines/{world.ids['printer']}?week=2099-01-05",
                f"/desk/atelier/book?maker={world.ids['maker']}&day=2099-01-01"):
        response = await switch(client, "en", url, page=url)
        assert response.headers["location"] == url


async def test_the_page_htmx_moved_to_wins_over_the_page_first_drawn(client, world):
    """After a week swapped in by htmx the address bar shows ?week=…, which the form drawn
    with the first week does not know: the browser's Referer (this site only) says it."""
    week_url = f"/machines/{world.ids['printer']}?week=2099-01-05"
    moved = await switch(client, "en", f"/machines/{world.ids['printer']}",
                         referer=f"http://testserver{week_url}")
    assert moved.headers["location"] == week_url
    elsewhere = await switch(client, "en", "/sites/atelier", referer="https://evil.example/phish")
    assert elsewhere.headers["location"] == "/sites/atelier"


async def test_a_lang_in_the_query_does_not_undo_the_choice(client, world):
    response = await switch(client, "fr", "/sites/atelier?lang=en&x=1")
    assert response.headers["location"] == "/sites/atelier?x=1"
    assert "Horaires d'ouverture" in (await client.get(response.headers["location"])).text


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example",
    "evil.example", "javascript:alert(1)", " //evil.example", "",
])
async def test_the_switch_never_sends_anyone_to_another_site(client, world, target):
    response = await switch(client, "en", target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_next_with_spaces_or_line_breaks_is_a_harmless_local_address():
    assert safe_next("/sites/a b") == "/sites/a%20b"
    assert safe_next("/x\r\nSet-Cookie: a=b") == "/x%0D%0ASet-Cookie:%20a=b"
    assert safe_next("/\t/evil.example") == "/%09/evil.example"
    assert safe_next("/projects?q=lampe&kind=laser") == "/projects?q=lampe&kind=laser"
