"""The public and maker pages, through HTTP as a browser uses them (no JavaScript)."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from fabbooking.bookings.tables import Booking
from tests.web_helpers import browser_login, csrf, free_cell_links, submit

pytestmark = pytest.mark.anyio


async def test_home_lists_the_network_sites_and_their_machines(client, world):
    response = await client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "Atelier" in page and "Ailleurs" in page
    assert f'href="/machines/{world.ids["printer"]}"' in page
    # whether it can be used now, in words, not colour alone (« Fermé… » after 20:00 in Paris)
    assert re.search(r'<span class="badge (ok|off)">(Libre maintenant|Fermé)', page)


async def test_site_page_shows_machines_and_opening_hours(client, world):
    page = (await client.get("/sites/atelier")).text
    assert "Horaires d'ouverture" in page and "08:00–20:00" in page
    assert f'/machines/{world.ids["laser"]}' in page


async def test_site_page_announces_its_next_public_workshops_only(client, world):
    from tests.workshops_support import plan_body

    for title, public, site in [("Lampes en bois", True, "atelier"), ("Réunion d'équipe", False, "atelier"),
                                ("Ailleurs seulement", True, "ailleurs")]:
        planned = await client.post("/api/v1/workshops", headers=world.auth("admin"),
                                    json=plan_body(site=site, title=title, public=public))
        assert planned.status_code == 201, planned.text
    page = (await client.get("/sites/atelier")).text
    assert "Prochains ateliers" in page and "Lampes en bois" in page
    assert "Réunion d'équipe" not in page and "Ailleurs seulement" not in page


async def test_unknown_page_is_a_helpful_404_page_while_the_api_stays_json(client, world):
    page = await client.get("/sites/nowhere")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "Retour aux lieux et machines" in page.text
    api = await client.get("/api/v1/sites/nowhere")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    unknown = await client.get("/no/such/page")
    assert unknown.status_code == 404 and "<html" in unknown.text


async def test_machine_page_offers_free_cells_that_lead_to_the_booking_form(client, world):
    page = (await client.get(f"/machines/{world.ids['printer']}")).text
    assert "Impression 3D – initiation" in page
    links = free_cell_links(page)
    assert links, "a machine open every day has free cells this week"
    form = await client.get(html_lib.unescape(links[-1]))
    assert form.status_code == 303 and form.headers["location"].startswith("/login?next=")


async def test_maker_books_in_three_steps_and_cancels_without_javascript(client, world):
    await browser_login(client, "maker")
    machine_page = (await client.get(f"/machines/{world.ids['printer']}?week=")).text
    cell = html_lib.unescape(free_cell_links(machine_page)[-1])
    form_page = await client.get(cell)
    assert form_page.status_code == 200 and "Confirmer la réservation" in form_page.text
    start = re.search(r'<option value="([^"]+)"', form_page.text).group(1)
    response = await submit(client, f"/machines/{world.ids['printer']}/book",
                            {"start": html_lib.unescape(start), "minutes": "60", "note": "porte-clés",
                             "cell": "x"}, page=cell)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/me/bookings?done=booked")
    mine = (await client.get("/me/bookings?done=booked")).text
    assert "C'est réservé" in mine and "porte-clés" in mine
    booking = await Booking.select().first()
    assert booking["maker"] == world.ids["maker"] and booking["status"] == "confirmed"

    confirm = await client.get(f"/me/bookings/{booking['id']}/cancel")
    assert "Oui, annuler" in confirm.text
    cancelled = await submit(client, f"/me/bookings/{booking['id']}/cancel", {},
                             page=f"/me/bookings/{booking['id']}/cancel")
    assert cancelled.status_code == 303
    assert (await Booking.select(Booking.status).first())["status"] == "cancelled"
    assert "Le créneau est de nouveau libre" in (await client.get("/me/bookings?done=cancelled")).text


async def test_an_absurd_duration_is_asked_again_not_an_error_page(client, world):
    await browser_login(client, "maker")
    cell = html_lib.unescape(free_cell_links((await client.get(f"/machines/{world.ids['printer']}")).text)[-1])
    start = re.search(r'<option value="([^"]+)"', (await client.get(cell)).text).group(1)
    for minutes in ("99999999999999999999", "soixante"):
        response = await submit(client, f"/machines/{world.ids['printer']}/book",
                                {"start": html_lib.unescape(start), "minutes": minutes,
                                 "cell": cell.split("start=")[1]}, page=cell)
        assert response.status_code == 422
        assert "Choisissez une durée dans la liste." in response.text
    assert await Booking.count() == 0


async def test_refused_booking_is_explained_next_to_the_form(client, world):
    await browser_login(client, "newbie")  # no 3D printing training
    cell = html_lib.unescape(free_cell_links((await client.get(f"/machines/{world.ids['printer']}")).text)[-1])
    start = re.search(r'<option value="([^"]+)"', (await client.get(cell)).text).group(1)
    response = await submit(client, f"/machines/{world.ids['printer']}/book",
                            {"start": html_lib.unescape(start), "minutes": "60", "cell": cell.split("start=")[1]},
                            page=cell)
    assert response.status_code == 403
    assert "Impression 3D – initiation" in response.text and 'role="alert"' in response.text
    assert await Booking.count() == 0


async def test_a_form_without_its_csrf_token_is_refused(client, world):
    await browser_login(client, "maker")
    response = await client.post(f"/machines/{world.ids['printer']}/book", data={"start": "x", "minutes": "60"})
    assert response.status_code == 403 and "<html" in response.text
    assert await Booking.count() == 0


async def test_someone_elses_booking_cannot_be_cancelled_from_the_pages(client, world):
    await browser_login(client, "maker")
    cell = html_lib.unescape(free_cell_links((await client.get(f"/machines/{world.ids['printer']}")).text)[-1])
    start = re.search(r'<option value="([^"]+)"', (await client.get(cell)).text).group(1)
    await submit(client, f"/machines/{world.ids['printer']}/book",
                 {"start": html_lib.unescape(start), "minutes": "60"}, page=cell)
    booking_id = (await Booking.select(Booking.id).first())["id"]
    client.cookies.clear()
    await browser_login(client, "newbie")
    assert (await client.get(f"/me/bookings/{booking_id}/cancel")).status_code == 404
    refused = await submit(client, f"/me/bookings/{booking_id}/cancel", {})
    assert refused.status_code == 404
    assert (await Booking.select(Booking.status).first())["status"] == "confirmed"


async def test_pages_that_need_an_account_send_to_login_and_back(client, world):
    response = await client.get("/me/bookings")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fme%2Fbookings"
    login = await submit(client, "/login", {"username": "maker", "password": "secret123",
                                            "next": "/me/bookings"}, page="/login")
    assert login.status_code == 303 and login.headers["location"] == "/me/bookings"
    assert (await client.get("/me/bookings")).status_code == 200


async def test_login_never_redirects_to_another_site(client, world):
    login = await submit(client, "/login", {"username": "maker", "password": "secret123",
                                            "next": "https://evil.example/"}, page="/login")
    assert login.headers["location"] == "/"


async def test_wrong_password_is_explained_on_the_login_page(client, world):
    response = await submit(client, "/login", {"username": "maker", "password": "nope-nope"}, page="/login")
    assert response.status_code == 401
    assert "mot de passe incorrect" in response.text


async def test_my_trainings_and_account_pages(client, world):
    await browser_login(client, "maker")
    trainings = await client.get("/me/trainings")
    assert "Impression 3D – initiation" in trainings.text and "Valable sans limite" in trainings.text
    account = await client.get("/me/account")
    assert "maker" in account.text
    changed = await submit(client, "/me/account/password",
                           {"current": "secret123", "new": "nouveau-mdp", "again": "nouveau-mdp"}, page="/me/account")
    assert changed.status_code == 303
    wrong = await submit(client, "/me/account/password",
                         {"current": "secret123", "new": "abcdefgh", "again": "abcdefgh"}, page="/me/account")
    assert wrong.status_code == 401 and "mot de passe" in wrong.text
    short = await submit(client, "/me/account/password",
                         {"current": "nouveau-mdp", "new": "abc", "again": "abc"}, page="/me/account")
    assert short.status_code == 422 and "au moins 6 caractères" in short.text


async def test_htmx_gets_the_fragment_and_the_page_varies_on_it(client, world):
    url = f"/machines/{world.ids['printer']}"
    full = await client.get(url)
    assert "<html" in full.text and full.headers["vary"].lower().count("hx-request") == 1
    piece = await client.get(url, headers={"HX-Request": "true"})
    assert "<html" not in piece.text and 'id="week"' in piece.text
    boosted = await client.get(url, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text
    restore = await client.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


async def test_htmx_form_success_answers_with_hx_redirect(client, world):
    await browser_login(client, "maker")
    cell = html_lib.unescape(free_cell_links((await client.get(f"/machines/{world.ids['printer']}")).text)[-1])
    start = re.search(r'<option value="([^"]+)"', (await client.get(cell)).text).group(1)
    token = await csrf(client, cell)
    response = await client.post(f"/machines/{world.ids['printer']}/book", headers={"HX-Request": "true"},
                                 data={"_csrf_token": token, "start": html_lib.unescape(start), "minutes": "60"})
    assert response.headers["hx-redirect"].startswith("/me/bookings?done=booked")


async def test_pages_carry_a_strict_content_security_policy_and_no_inline_code(client, world):
    await browser_login(client, "maker")
    for url in ("/", "/sites/atelier", f"/machines/{world.ids['printer']}", "/me/bookings", "/me/account",
                "/login", "/nowhere"):
        response = await client.get(url)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), url
        assert " style=" not in response.text and " onclick=" not in response.text, url


async def test_session_cookie_is_httponly_and_lax(client, world):
    response = await submit(client, "/login", {"username": "maker", "password": "secret123"}, page="/login")
    cookie = response.headers["set-cookie"]
    assert "fabbooking_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
