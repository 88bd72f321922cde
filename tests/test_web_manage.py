"""Network administration pages (/manage): what a network admin, and anyone else, notices."""

from __future__ import annotations

import re
from datetime import time
from html import unescape

import pytest

from fabbooking.accounts.tables import Account
from fabbooking.network.tables import Machine, OpeningPeriod, Site, Staff
from fabbooking.training.tables import Training
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


async def login(client, username: str) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


async def submit(client, url: str, fields: dict[str, str], page: str | None = None):
    """Post a form as a browser does: open the page first, send its CSRF token back."""
    await client.get(page or url)
    token = client.cookies.get("fabbooking_csrf")
    assert token, "the page did not set the CSRF cookie"
    return await client.post(url, data={**fields, "_csrf_token": token})


def text_of(response) -> str:
    return unescape(response.text)


async def staff_sites(account_id: int) -> set[str]:
    rows = await Staff.select(Staff.site.slug.as_alias("slug")).where(Staff.account == account_id)
    return {r["slug"] for r in rows}


SITE_FORM = {"name": "PAPIFab de Kérourien", "slug": "", "kind": "papifab", "neighbourhood": "Bellevue",
             "address": "12 rue de Kérourien, Brest", "timezone": "Europe/Paris"}


# --- who may open the pages ----------------------------------------------------------

async def test_anonymous_people_are_sent_to_the_login_page(client, world):
    response = await client.get("/manage/sites")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmanage%2Fsites"


@pytest.mark.parametrize("who", ["animator", "maker"])
async def test_only_network_admins_may_open_the_pages(client, world, who):
    await login(client, who)
    for path in ("/manage", "/manage/sites", "/manage/sites/atelier", "/manage/machines",
                 "/manage/trainings", "/manage/users", f"/manage/users/{world.ids['maker']}"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "Vous n'avez pas le droit" in text_of(response)
    refused = await submit(client, "/manage/sites", {**SITE_FORM, "slug": "pirate"}, page="/")
    assert refused.status_code == 403
    assert not await Site.exists().where(Site.slug == "pirate")
    refused = await submit(client, f"/manage/users/{world.ids[who]}", {"role": "admin"}, page="/")
    assert refused.status_code == 403
    assert (await Account.select(Account.role).where(Account.id == world.ids[who]).first())["role"] == who


async def test_the_overview_links_every_section_and_the_back_office(client, world):
    await login(client, "admin")
    response = await client.get("/manage")
    assert response.status_code == 200
    for href in ("/manage/sites", "/manage/machines", "/manage/trainings", "/manage/users", "/admin/"):
        assert f'href="{href}"' in response.text
    assert "Données brutes (back-office)" in text_of(response)
    assert 'href="/manage"' in (await client.get("/")).text  # the admin's menu leads here


# --- sites ---------------------------------------------------------------------------

async def test_admin_creates_a_site_with_opening_hours_and_it_appears_on_the_home_page(client, world):
    await login(client, "admin")
    created = await submit(client, "/manage/sites", SITE_FORM)
    assert created.status_code == 303
    assert created.headers["location"] == "/manage/sites/papifab-de-kerourien?done=created"
    assert "Indiquez maintenant ses horaires" in text_of(await client.get(created.headers["location"]))

    hours = {"h0-0-opens": "09:00", "h0-0-closes": "12:00", "h0-1-opens": "14:00", "h0-1-closes": "18:00",
             "h2-0-opens": "13:30", "h2-0-closes": "19:00"}
    saved = await submit(client, "/manage/sites/papifab-de-kerourien/hours", hours,
                         page="/manage/sites/papifab-de-kerourien")
    assert saved.status_code == 303
    site = await Site.select().where(Site.slug == "papifab-de-kerourien").first()
    rows = await OpeningPeriod.select(OpeningPeriod.weekday, OpeningPeriod.opens, OpeningPeriod.closes).where(
        OpeningPeriod.site == site["id"]).order_by(OpeningPeriod.weekday).order_by(OpeningPeriod.opens)
    assert [(r["weekday"], r["opens"], r["closes"]) for r in rows] == [
        (0, time(9), time(12)), (0, time(14), time(18)), (2, time(13, 30), time(19))]

    home = text_of(await client.get("/"))
    assert "PAPIFab de Kérourien" in home and "Bellevue" in home
    public = text_of(await client.get("/sites/papifab-de-kerourien"))
    assert "09:00–12:00, 14:00–18:00" in public and "12 rue de Kérourien" in public
    editor = await client.get("/manage/sites/papifab-de-kerourien")
    assert 'value="14:00"' in editor.text  # the editor shows the stored week again


async def test_admin_changes_a_sites_details_and_booking_rules(client, world):
    await login(client, "admin")
    form = {**SITE_FORM, "name": "Atelier du centre", "kind": "fablab", "description": "Au rez-de-chaussée.",
            "slot_minutes": "30", "min_minutes": "30", "max_minutes": "180", "max_days_ahead": "14",
            "min_notice_minutes": "60", "cancel_deadline_minutes": "120", "max_future_bookings": "2",
            "buffer_minutes": "10", "no_show_grace_minutes": "25", "reminder_hour": "18"}
    saved = await submit(client, "/manage/sites/atelier", form)
    assert saved.status_code == 303 and saved.headers["location"] == "/manage/sites/atelier?done=saved"
    site = await Site.select().where(Site.slug == "atelier").first()
    assert (site["name"], site["kind"], site["slot_minutes"], site["max_minutes"], site["buffer_minutes"],
            site["cancel_deadline_minutes"], site["no_show_grace_minutes"], site["reminder_hour"]) == (
        "Atelier du centre", "fablab", 30, 180, 10, 120, 25, 18)

    wrong = await submit(client, "/manage/sites/atelier", {**form, "name": "Autre nom", "slot_minutes": "0",
                                                           "max_minutes": "20"})
    assert wrong.status_code == 422
    page = text_of(wrong)
    assert 'role="alert"' in page and "Rien n'a été enregistré" in page
    assert "Écrivez un nombre entier de 5 à 240." in page
    assert "au moins égale à la plus courte" in page
    assert (await Site.select(Site.name).where(Site.slug == "atelier").first())["name"] == "Atelier du centre"


async def test_wrong_opening_hours_are_refused_in_plain_words_and_nothing_changes(client, world):
    await login(client, "admin")
    before = await OpeningPeriod.count().where(OpeningPeriod.site == world.ids["atelier"])
    for hours, says in [
        ({"h1-0-opens": "18:00", "h1-0-closes": "09:00"}, "La fermeture (09:00) doit être après l'ouverture (18:00)."),
        ({"h1-0-opens": "09:00", "h1-0-closes": ""}, "indiquez l'heure d'ouverture et l'heure de fermeture"),
        ({"h1-0-opens": "09:00", "h1-0-closes": "13:00", "h1-1-opens": "12:00", "h1-1-closes": "18:00"},
         "se chevauchent"),
    ]:
        response = await submit(client, "/manage/sites/atelier/hours", hours, page="/manage/sites/atelier")
        assert response.status_code == 422
        assert says in text_of(response)
        assert 'aria-invalid="true"' in response.text
    assert await OpeningPeriod.count().where(OpeningPeriod.site == world.ids["atelier"]) == before


async def test_a_duplicate_slug_is_refused_in_plain_words_and_nothing_is_written(client, world):
    await login(client, "admin")
    response = await submit(client, "/manage/sites", {**SITE_FORM, "slug": "atelier", "name": "Un autre atelier"})
    assert response.status_code == 409
    page = text_of(response)
    assert 'role="alert"' in page
    assert "L'identifiant « atelier » est déjà pris. Choisissez-en un autre." in page
    assert 'value="Un autre atelier"' in page  # what was typed is kept
    assert await Site.count() == 2
    assert not await Site.exists().where(Site.name == "Un autre atelier")

    machine = await submit(client, "/manage/machines", {"site": "atelier", "slug": "printer", "name": "Encore une",
                                                        "kind": "3d_printer", "required_training": ""})
    assert machine.status_code == 409
    assert "L'identifiant « printer » est déjà pris" in text_of(machine)
    assert not await Machine.exists().where(Machine.name == "Encore une")


async def test_an_unknown_site_is_a_plain_404(client, world):
    await login(client, "admin")
    response = await client.get("/manage/sites/nulle-part")
    assert response.status_code == 404
    assert "Nous n'avons pas trouvé le lieu « nulle-part »" in text_of(response)


# --- machines and trainings -------------------------------------------------------------

async def test_admin_creates_a_machine_and_it_appears_on_the_site_page(client, world):
    await login(client, "admin")
    response = await submit(client, "/manage/machines", {
        "site": "atelier", "slug": "", "name": "Découpeuse Trotec", "kind": "laser_cutter",
        "required_training": str(world.ids["laser_training"]), "description": "Bois et acrylique."})
    assert response.status_code == 303
    machine = await Machine.select().where(Machine.name == "Découpeuse Trotec").first()
    assert response.headers["location"] == f"/manage/machines?done=created#machine-{machine['id']}"
    assert (machine["slug"], machine["kind"], machine["required_training"], machine["site"]) == (
        "decoupeuse-trotec", "laser_cutter", world.ids["laser_training"], world.ids["atelier"])
    site_page = text_of(await client.get("/sites/atelier"))
    assert "Découpeuse Trotec" in site_page and "Découpe laser – initiation" in site_page


async def test_admin_puts_a_machine_in_maintenance_and_drops_its_training(client, world):
    await login(client, "admin")
    response = await submit(client, f"/manage/machines/{world.ids['printer']}",
                            {"status": "maintenance", "required_training": ""}, page="/manage/machines")
    assert response.status_code == 303
    machine = await Machine.select().where(Machine.id == world.ids["printer"]).first()
    assert (machine["status"], machine["required_training"]) == ("maintenance", None)
    assert "En maintenance" in text_of(await client.get("/sites/atelier"))

    wrong = await submit(client, f"/manage/machines/{world.ids['printer']}", {"status": "broken"},
                         page="/manage/machines")
    assert wrong.status_code == 422 and "Choisissez l'état de la machine." in text_of(wrong)


async def test_admin_gives_a_machine_its_own_rules_and_gives_them_back_to_the_site(client, world):
    await login(client, "admin")
    editor = await client.get("/manage/machines")
    assert "Règles propres à cette machine" in editor.text
    assert f'id="max_minutes-{world.ids["laser"]}"' in editor.text
    form = {"status": "available", "required_training": str(world.ids["laser_training"]),
            "rules_shown": "1", "max_minutes": "60", "buffer_minutes": "15"}
    saved = await submit(client, f"/manage/machines/{world.ids['laser']}", form, page="/manage/machines")
    assert saved.status_code == 303
    laser = (await client.get(f"/api/v1/machines/{world.ids['laser']}")).json()
    assert laser["rule_overrides"] == {"max_minutes": 60, "buffer_minutes": 15}
    assert laser["rules"]["slot_minutes"] == 15  # blank: still the site's

    wrong = await submit(client, f"/manage/machines/{world.ids['laser']}",
                         {**form, "min_minutes": "90"}, page="/manage/machines")
    assert wrong.status_code == 422
    assert "au moins égale à la plus courte" in text_of(wrong)
    assert (await Machine.select(Machine.min_minutes).where(Machine.id == world.ids["laser"]).first()
            )["min_minutes"] is None

    back = await submit(client, f"/manage/machines/{world.ids['laser']}",
                        {**form, "max_minutes": "", "buffer_minutes": ""}, page="/manage/machines")
    assert back.status_code == 303
    laser = (await client.get(f"/api/v1/machines/{world.ids['laser']}")).json()
    assert laser["rule_overrides"] == {} and laser["rules"]["max_minutes"] == 240


async def test_admin_creates_a_training_that_unlocks_machine_kinds(client, world):
    await login(client, "admin")
    response = await submit(client, "/manage/trainings", {
        "name": "Broderie – initiation", "slug": "", "description": "Deux heures.",
        "kind-embroidery": "on", "kind-vinyl_cutter": "on"})
    assert response.status_code == 303
    training = await Training.select().where(Training.slug == "broderie-initiation").first()
    assert training["name"] == "Broderie – initiation"
    assert sorted(training["unlocks_kinds"]) == ["embroidery", "vinyl_cutter"]
    assert "Broderie – initiation" in text_of(await client.get("/manage/trainings"))

    again = await submit(client, "/manage/trainings", {"name": "Autre", "slug": "laser"})
    assert again.status_code == 409 and "L'identifiant « laser » est déjà pris" in text_of(again)
    assert await Training.count() == 3


# --- people ---------------------------------------------------------------------------

async def test_admin_creates_an_animator_for_a_site(client, world):
    await login(client, "admin")
    response = await submit(client, "/manage/users", {
        "username": "Gwen", "display_name": "Gwenaëlle", "password": "motdepasse", "email": "",
        "role": "animator", "site-atelier": "on"})
    assert response.status_code == 303
    account = await Account.select().where(Account.username == "gwen").first()
    assert response.headers["location"] == f"/manage/users/{account['id']}?done=created"
    assert (account["role"], account["admin"], account["superuser"], account["email"]) == (
        "animator", False, False, None)
    assert await staff_sites(account["id"]) == {"atelier"}
    assert "Le compte est créé" in text_of(await client.get(response.headers["location"]))


async def test_an_animator_without_a_site_is_refused_and_no_account_is_made(client, world):
    await login(client, "admin")
    response = await submit(client, "/manage/users", {
        "username": "erwan", "display_name": "", "password": "motdepasse", "role": "animator"})
    assert response.status_code == 422
    assert "Cochez au moins un lieu" in text_of(response)
    assert not await Account.exists().where(Account.username == "erwan")
    taken = await submit(client, "/manage/users", {"username": "maker", "password": "motdepasse", "role": "maker"})
    assert taken.status_code == 409 and "« maker » est déjà pris" in text_of(taken)


async def test_admin_changes_a_maker_into_an_animator_and_back(client, world):
    await login(client, "admin")
    maker = world.ids["maker"]
    response = await submit(client, f"/manage/users/{maker}",
                            {"role": "animator", "site-atelier": "on", "site-ailleurs": "on"})
    assert response.status_code == 303 and response.headers["location"] == f"/manage/users/{maker}?done=role"
    assert (await Account.select(Account.role).where(Account.id == maker).first())["role"] == "animator"
    assert await staff_sites(maker) == {"atelier", "ailleurs"}

    await submit(client, f"/manage/users/{maker}", {"role": "animator", "site-ailleurs": "on"})
    assert await staff_sites(maker) == {"ailleurs"}

    await submit(client, f"/manage/users/{maker}", {"role": "admin", "site-ailleurs": "on"})
    row = await Account.select().where(Account.id == maker).first()
    assert (row["role"], row["admin"], row["superuser"]) == ("admin", True, True)
    assert await staff_sites(maker) == set()

    await submit(client, f"/manage/users/{maker}", {"role": "maker"})
    row = await Account.select().where(Account.id == maker).first()
    assert (row["role"], row["admin"], row["superuser"]) == ("maker", False, False)


async def test_demoting_the_last_admin_is_refused(client, world):
    await login(client, "admin")
    admin = world.ids["admin"]
    response = await submit(client, f"/manage/users/{admin}", {"role": "maker"})
    assert response.status_code == 409
    page = text_of(response)
    assert 'role="alert"' in page and "C'est le dernier administrateur du réseau" in page
    row = await Account.select().where(Account.id == admin).first()
    assert (row["role"], row["admin"], row["superuser"]) == ("admin", True, True)

    await submit(client, f"/manage/users/{world.ids['newbie']}", {"role": "admin"})
    stepped_down = await submit(client, f"/manage/users/{admin}", {"role": "maker"})
    assert stepped_down.status_code == 303 and stepped_down.headers["location"] == "/me/account"
    assert (await Account.select(Account.role).where(Account.id == admin).first())["role"] == "maker"
    assert (await client.get("/manage")).status_code == 403


async def test_people_search_finds_by_part_of_the_name(client, world):
    await login(client, "admin")
    page = await client.get("/manage/users", params={"q": "ANIM"})
    found = re.findall(r'<th scope="row">([^<]+)</th>', page.text)
    assert found == ["animator"]  # not newbie, not the others


async def test_an_htmx_search_returns_only_the_results(client, world):
    await login(client, "admin")
    response = await client.get("/manage/users", params={"q": "mak"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    assert response.text.lstrip().startswith('<div id="people"')
    assert "<html" not in response.text and "maker" in response.text and "newbie" not in response.text
    full = await client.get("/manage/users", params={"q": "mak"})
    assert "<html" in full.text and "HX-Request" in full.headers["vary"]
