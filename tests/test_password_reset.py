"""A forgotten password, for people who gave an e-mail: a link sent to it (for now written to
the log), single use, an hour long, that ends every session; no hint whether an account
exists; people without an e-mail are sent to the desk."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from fabbooking.accounts.identify import token_digest
from fabbooking.accounts.tables import Account, AddressTry, BrowserSession, PasswordReset
from tests.conftest import PASSWORD
from tests.web_helpers import browser_login, submit

pytestmark = pytest.mark.anyio
LINK = re.compile(r"http://127\.0\.0\.1:8000(/password/reset/[\w-]+)")


@pytest.fixture
def sent():
    """The reset links written to the e-mail outbox, as paths, oldest first."""
    from fabbooking.notifications.tables import Outbox

    async def links() -> list[str]:
        rows = await Outbox.select(Outbox.text_body).where(Outbox.kind == "password_reset").order_by(Outbox.id)
        return [m.group(1) for r in rows for m in [LINK.search(r["text_body"])] if m]
    return links


async def _with_email(world) -> None:
    await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])


async def _ask(client, who: str):
    return await submit(client, "/password/forgotten", {"who": who}, page="/password/forgotten")


async def test_the_answer_is_the_same_whether_the_account_exists_or_has_an_email(client, world, sent):
    await _with_email(world)
    answers = [await _ask(client, who) for who in ("maker", "personne", "newbie", "MAKER@example.org")]
    assert {a.status_code for a in answers} == {200}
    texts = {re.search(r'<div class="notice ok"[^>]*>(.*?)</div>', a.text, re.S).group(1) for a in answers}
    assert len(texts) == 1 and "Si ce compte a une adresse e-mail" in texts.pop()
    assert len(await sent()) == 2  # the maker, by username and by e-mail; nobody else gets anything
    await AddressTry.delete(force=True)  # a fresh allowance for the API's turn
    api = [await client.post("/api/v1/auth/password-reset", json={"who": who}) for who in ("newbie", "personne")]
    assert [a.status_code for a in api] == [202, 202] and api[0].json() == api[1].json()


async def test_only_the_digest_of_the_link_is_kept_and_it_expires_in_an_hour(client, world, sent):
    await _with_email(world)
    await _ask(client, "maker")
    token = (await sent())[0].rsplit("/", 1)[1]
    [row] = await PasswordReset.select()
    assert row["digest"] == token_digest(token) and token not in str(row)
    lifetime = datetime.fromisoformat(str(row["expires_at"])) - datetime.fromisoformat(str(row["created_at"]))
    assert lifetime == timedelta(hours=1)


async def test_the_logged_link_sets_a_new_password_once_and_ends_every_session(client, world, sent):
    await _with_email(world)
    await browser_login(client, "maker")  # another device, still logged in
    other_session = client.cookies.get("fabbooking_session")
    client.cookies.clear()
    await _ask(client, "maker")
    [link] = await sent()
    form = await client.get(link)
    assert form.status_code == 200 and "Nouveau mot de passe" in form.text
    assert form.headers["Referrer-Policy"] == "no-referrer"
    done = await submit(client, link, {"new": "nouveau-secret", "again": "nouveau-secret"}, page=link)
    assert done.status_code == 303 and done.headers["location"] == "/me/account?done=reset"
    assert (await client.get("/api/v1/users/me")).json()["username"] == "maker"  # this device is logged in
    assert not await BrowserSession.exists().where(BrowserSession.token == other_session)
    assert await BrowserSession.count().where(BrowserSession.user_id == world.ids["maker"]) == 1
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD})).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={"username": "maker",
                                                          "password": "nouveau-secret"})).status_code == 200
    again = await submit(client, link, {"new": "troisieme-secret", "again": "troisieme-secret"}, page="/")
    assert again.status_code == 410 and "ne marche plus" in again.text
    assert (await client.get(link)).status_code == 410
    api = await client.post("/api/v1/auth/password-reset/confirm",
                            json={"token": link.rsplit("/", 1)[1], "new": "troisieme-secret"})
    assert api.status_code == 422 and api.json()["code"] == "reset_link_invalid"


async def test_an_expired_link_opens_nothing(client, world, sent):
    await _with_email(world)
    await _ask(client, "maker")
    [link] = await sent()
    await PasswordReset.update({PasswordReset.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        PasswordReset.account == world.ids["maker"])
    page = await client.get(link)
    assert page.status_code == 410 and "ne marche plus" in page.text and 'name="new"' not in page.text
    refused = await submit(client, link, {"new": "nouveau-secret", "again": "nouveau-secret"}, page="/")
    assert refused.status_code == 410
    assert (await client.post("/api/v1/auth/login", json={"username": "maker", "password": PASSWORD})).status_code == 200


async def test_a_weak_new_password_is_refused_and_the_link_still_works(client, world, sent):
    await _with_email(world)
    await _ask(client, "maker")
    [link] = await sent()
    weak = await submit(client, link, {"new": "abc", "again": "abc"}, page="/")
    assert weak.status_code == 422 and "au moins" in weak.text
    api = await client.post("/api/v1/auth/password-reset/confirm",
                            json={"token": link.rsplit("/", 1)[1], "new": "un-bon-secret"})
    assert api.status_code == 204


async def test_asking_again_and_again_sends_a_few_links_then_waits(client, world, sent):
    await _with_email(world)
    answers = [await client.post("/api/v1/auth/password-reset", json={"who": "maker"}) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [202] * 5
    assert answers[5].status_code == 429 and answers[5].json()["code"] == "too_many_reset_requests"
    assert len(await sent()) == 3  # at most three links an hour fill the person's mailbox


async def test_pages_without_email_point_to_the_desk(client, world):
    for path in ("/password/forgotten", "/password/reset/nothing-here"):
        text = (await client.get(path)).text
        assert "Pas d" in text and "peut changer votre mot de passe" in text and "accueil" in text


async def test_the_desk_gives_a_maker_without_email_a_new_password(client, world):
    await browser_login(client, "newbie")  # their phone, still logged in
    phone = client.cookies.get("fabbooking_session")
    client.cookies.clear()
    await browser_login(client, "animator")
    desk = f"/desk/atelier/person?maker={world.ids['newbie']}"
    assert "en donner un nouveau" in (await client.get(desk)).text
    url = f"/desk/atelier/accounts/{world.ids['newbie']}/password"
    weak = await submit(client, url, {"password": "abc"}, page=desk)
    assert weak.status_code == 422 and "au moins" in weak.text
    done = await submit(client, url, {"password": "donne-au-comptoir"}, page=desk)
    assert done.status_code == 303 and "done=password" in done.headers["location"]
    assert "est changé" in (await client.get(done.headers["location"])).text
    assert not await BrowserSession.exists().where(BrowserSession.token == phone)
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/login", json={"username": "newbie",
                                                          "password": "donne-au-comptoir"})).status_code == 200


async def test_an_animator_cannot_change_a_staff_password_nor_a_maker_anyone(client, world):
    await browser_login(client, "animator")
    refused = await submit(client, f"/desk/atelier/accounts/{world.ids['admin']}/password",
                           {"password": "prise-de-pouvoir"}, page="/desk/atelier")
    assert refused.status_code == 404
    client.cookies.clear()
    await browser_login(client, "maker")
    refused = await submit(client, f"/desk/atelier/accounts/{world.ids['newbie']}/password",
                           {"password": "prise-de-pouvoir"}, page="/")
    assert refused.status_code == 403
    client.cookies.clear()
    for who in ("admin", "newbie"):
        assert (await client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})).status_code == 200
        client.cookies.clear()
