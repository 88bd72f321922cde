"""E-mail notifications, checked at a real SMTP server in process (aiosmtpd): what arrives,
in whose language, with which attachment, to whom not, and exactly once with two processes
draining and a server that refuses before it accepts. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from fabbooking import database
from fabbooking.accounts.tables import Account
from fabbooking.bookings.tables import Booking
from fabbooking.notifications import addresses, events
from fabbooking.notifications.outbox import Notice, enqueue
from fabbooking.notifications.sending import drain
from fabbooking.notifications.tables import MutedKind, Outbox
from fabbooking.usage.tables import Telemetry
from tests.conftest import ROOT, booking_body, make_account, qualify
from tests.mail_support import mail_server  # noqa: F401

pytestmark = pytest.mark.anyio


async def give_address(account_id: int, address: str, language: str = "fr", proved: bool = True) -> None:
    await Account.update({Account.email: address, Account.language: language}).where(Account.id == account_id)
    if proved:
        await addresses.mark_proved(account_id, address, datetime.now(UTC))


def attachment_calendar(message) -> icalendar.Calendar:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.iter_attachments()]
    return icalendar.Calendar.from_ical(parts[0].get_content())


async def test_a_booking_confirmation_arrives_in_the_makers_language_with_the_event_attached(
        client, world, mail_server):
    await give_address(world.ids["maker"], "maker@example.org", language="en")
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                 json=booking_body(world.ids["printer"], days_ahead=2, start="10:00"))
    assert response.status_code == 201, response.text
    booking = response.json()

    done = await drain(datetime.now(UTC), server=mail_server.server)
    assert done.sent == 1
    [message] = mail_server.inbox.to("maker@example.org")
    assert message["Subject"].startswith("Booking confirmed: Printer")
    assert message["Content-Language"] == "en"
    assert message["From"] and message["Message-ID"] and message["Date"]
    text = message.get_body(("plain",)).get_content()
    assert "Hello Maker," in text and "Atelier" in text
    assert "http://127.0.0.1:8000/me/notifications" in text  # the settings that stop it
    html = message.get_body(("html",)).get_content()
    assert 'href="http://127.0.0.1:8000/me/notifications"' in html and "<li>" in html
    [event] = attachment_calendar(message).walk("VEVENT")
    assert event.decoded("dtstart") == datetime.fromisoformat(booking["start"])
    assert event.decoded("dtend") == datetime.fromisoformat(booking["end"])
    assert str(event["uid"]).startswith(f"booking-{booking['id']}@")
    # sent once: a second drain finds nothing to do
    assert (await drain(datetime.now(UTC), server=mail_server.server)).sent == 0
    assert len(mail_server.inbox.received) == 1


async def test_french_is_the_default_and_says_why_the_person_gets_it(client, world, mail_server):
    await give_address(world.ids["maker"], "maker@example.org")
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                 json=booking_body(world.ids["printer"]))
    assert response.status_code == 201
    await drain(datetime.now(UTC), server=mail_server.server)
    [message] = mail_server.inbox.received
    assert message["Subject"].startswith("Réservation confirmée : Printer")
    assert message["Content-Language"] == "fr"
    text = message.get_body(("plain",)).get_content()
    assert "Bonjour Maker," in text
    assert "« Confirmation de mes réservations »" in text


async def test_nobody_is_written_to_without_a_proved_address_or_after_saying_no(client, world, mail_server):
    """No address; an address never proved; a proved address since changed; the kind turned
    off. None of them gets anything; the one who may, does."""
    quiet = {}
    for name, setup in (("no_address", None), ("unproved", "unproved"), ("changed", "changed"),
                        ("said_no", "said_no"), ("welcome", "welcome")):
        quiet[name] = await make_account(name)
        await qualify(quiet[name], world.ids["print"])
        if setup == "unproved":
            await give_address(quiet[name], f"{name}@example.org", proved=False)
        elif setup == "changed":
            await give_address(quiet[name], f"{name}@example.org")
            await Account.update({Account.email: "new-changed@example.org"}).where(Account.id == quiet[name])
        elif setup in ("said_no", "welcome"):
            await give_address(quiet[name], f"{name}@example.org")
        if setup == "said_no":
            await addresses.set_choices(quiet[name], {"booking_reminder"})
    for hour, name in enumerate(quiet):
        response = await client.post("/api/v1/bookings", headers=world.auth("animator"), json=booking_body(
            world.ids["printer"], start=f"{9 + hour:02d}:00", maker_id=quiet[name]))
        assert response.status_code == 201, response.text
    await drain(datetime.now(UTC), server=mail_server.server)
    assert [m["To"] for m in mail_server.inbox.received] == ["welcome@example.org"]
    assert await Outbox.count() == 1


async def test_a_message_exists_only_if_the_change_is_committed(world, db):
    await give_address(world.ids["maker"], "maker@example.org")
    with pytest.raises(RuntimeError):
        async with database.write_transaction():
            await enqueue(Notice(world.ids["maker"], "workshop_cancelled", {
                "workshop": "Soudure", "workshop_id": 1, "site": "Atelier", "timezone": "Europe/Paris",
                "start_at": datetime.now(UTC), "end_at": datetime.now(UTC)}))
            assert await Outbox.count() == 1
            raise RuntimeError("the change fails after the message was written")
    assert await Outbox.count() == 0


async def test_cancelled_by_staff_told_but_not_when_the_maker_cancels(client, world, mail_server):
    await give_address(world.ids["maker"], "maker@example.org")
    await MutedKind.insert(MutedKind(account=world.ids["maker"], kind="booking_confirmed"))
    ids = []
    for start in ("10:00", "12:00"):
        response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                     json=booking_body(world.ids["printer"], start=start))
        ids.append(response.json()["id"])
    mine = await client.post(f"/api/v1/bookings/{ids[0]}/cancel", headers=world.auth("maker"))
    staff = await client.post(f"/api/v1/bookings/{ids[1]}/cancel", headers=world.auth("animator"))
    assert mine.status_code == staff.status_code == 200, (mine.text, staff.text)
    await drain(datetime.now(UTC), server=mail_server.server)
    [message] = mail_server.inbox.received
    assert message["Subject"].startswith("Réservation annulée : Printer")
    assert "L'équipe du lieu a annulé votre réservation" in message.get_body(("plain",)).get_content()


async def test_a_no_show_release_and_a_broken_machine_are_told(client, world, mail_server):
    await give_address(world.ids["maker"], "maker@example.org", language="en")
    await MutedKind.insert(MutedKind(account=world.ids["maker"], kind="booking_confirmed"))
    now = datetime.now(UTC)
    started = await Booking.insert(Booking(
        machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
        start_at=now - timedelta(minutes=30), end_at=now + timedelta(minutes=30))).returning(Booking.id)
    await Telemetry.insert(Telemetry(machine=world.ids["printer"]))
    from fabbooking.usage.no_show import release_no_shows

    async with database.write_transaction():
        assert await release_no_shows(now) == [started[0]["id"]]
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"),
                                 json=booking_body(world.ids["printer"], days_ahead=3))
    assert response.status_code == 201
    response = await client.patch(f"/api/v1/machines/{world.ids['printer']}", headers=world.auth("animator"),
                                  json={"status": "out_of_order"})
    assert response.status_code == 200, response.text
    await drain(datetime.now(UTC), server=mail_server.server)
    subjects = sorted(m["Subject"] for m in mail_server.inbox.received)
    assert subjects[0].startswith("Booking released: Printer") and subjects[1] == "Printer is no longer available"
    assert "out of order" in mail_server.inbox.received[-1].get_body(("plain",)).get_content()


async def test_the_day_before_reminder_is_written_once(world, db, mail_server):
    await give_address(world.ids["maker"], "maker@example.org")
    paris = __import__("zoneinfo").ZoneInfo("Europe/Paris")
    evening = datetime.now(paris).replace(hour=18, minute=0, second=0, microsecond=0)
    tomorrow = evening + timedelta(days=1)
    await Booking.insert(Booking(
        machine=world.ids["printer"], maker=world.ids["maker"], booked_by=world.ids["maker"],
        start_at=tomorrow.replace(hour=9), end_at=tomorrow.replace(hour=10),
        created_at=evening - timedelta(days=2)))
    assert await events.enqueue_reminders((evening - timedelta(hours=2)).astimezone(UTC)) == 0  # 16:00: not yet
    from fabbooking.network.tables import Site

    await Site.update({Site.reminder_hour: 19}).where(Site.id == world.ids["atelier"])  # the site's own hour
    assert await events.enqueue_reminders(evening.astimezone(UTC)) == 0  # 18:00: not yet either
    assert await events.enqueue_reminders((evening + timedelta(hours=1)).astimezone(UTC)) == 1
    assert await events.enqueue_reminders((evening + timedelta(hours=1, minutes=1)).astimezone(UTC)) == 0
    await drain(datetime.now(UTC), server=mail_server.server)
    [message] = mail_server.inbox.received
    assert message["Subject"].startswith("Rappel : Printer demain")


async def test_workshop_registration_waitlist_promotion_and_cancellation(client, world, mail_server):
    from tests.workshops_support import plan_body

    first, second = world.ids["maker"], world.ids["newbie"]
    await give_address(first, "first@example.org")
    await give_address(second, "second@example.org", language="en")
    response = await client.post("/api/v1/workshops", headers=world.auth("animator"),
                                 json=plan_body(registration=True, capacity=1))
    assert response.status_code == 201, response.text
    workshop = response.json()["id"]
    one = await client.post(f"/api/v1/workshops/{workshop}/registrations", headers=world.auth("maker"))
    two = await client.post(f"/api/v1/workshops/{workshop}/registrations", headers=world.auth("newbie"))
    assert one.status_code == two.status_code == 201, (one.text, two.text)
    left = await client.post(f"/api/v1/workshops/{workshop}/registrations/{one.json()['id']}/cancel",
                             headers=world.auth("maker"))
    assert left.status_code == 200, left.text
    cancelled = await client.post(f"/api/v1/workshops/{workshop}/cancel", headers=world.auth("animator"))
    assert cancelled.status_code == 200, cancelled.text
    await drain(datetime.now(UTC), server=mail_server.server)
    got = [(m["To"], m["Subject"].split(":")[0].strip()) for m in mail_server.inbox.received]
    assert got == [("first@example.org", "Inscription confirmée"), ("second@example.org", "Waiting list"),
                   ("second@example.org", "A place for you"), ("second@example.org", "Workshop cancelled")]


async def test_without_a_mail_server_messages_are_logged_and_marked_sent(world, db, caplog):
    await give_address(world.ids["maker"], "maker@example.org")
    assert await addresses.ask_for_proof(world.ids["maker"], datetime.now(UTC)) is False  # proved already
    await Account.update({Account.email: "other@example.org"}).where(Account.id == world.ids["maker"])
    assert await addresses.ask_for_proof(world.ids["maker"], datetime.now(UTC)) is True
    with caplog.at_level("INFO", logger="fabbooking.mail"):
        assert (await drain(datetime.now(UTC), use_smtp=False)).sent == 1
    assert "other@example.org" in caplog.text and "/me/notifications/verify?t=" in caplog.text
    assert await Outbox.count().where(Outbox.sent_at.is_null()) == 0


# --- exactly once, two processes, a server that refuses then accepts --------------------

# Each process drains at the moment the test writes in a shared file (a clock the test moves
# on, so that the back-off between tries passes), until it is told to stop.
DRAINING_PROCESS = """
import asyncio, sys
from datetime import datetime
from pathlib import Path
from fabbooking import database
from fabbooking.notifications.sending import drain

clock = Path(sys.argv[1])

async def main():
    if database.is_postgres():
        await database.DB.start_connection_pool(min_size=1, max_size=2)
    print("ready", flush=True)
    while (text := clock.read_text().strip()) != "stop":
        await drain(datetime.fromisoformat(text))
        await asyncio.sleep(0.02)  # polling interval of the shared clock

asyncio.run(main())
"""


def set_clock(clock: Path, text: str) -> None:
    """Write the shared clock whole at once: a process reading while write_text runs could
    see it empty (write_text truncates, then writes)."""
    written = clock.with_suffix(".new")
    written.write_text(text)
    written.replace(clock)


async def test_exactly_one_message_per_event_with_two_processes_and_a_server_that_refuses_then_accepts(
        world, db, mail_server, tmp_path):
    people = []
    for n in range(6):
        person = await make_account(f"person{n}")
        await give_address(person, f"person{n}@example.org")
        people.append(person)
    now = datetime.now(UTC).replace(microsecond=0)
    context = {"workshop": "Soudure", "workshop_id": 1, "site": "Atelier", "timezone": "Europe/Paris",
               "start_at": now, "end_at": now + timedelta(hours=2)}
    for round_ in range(4):
        await enqueue(*[Notice(p, "workshop_cancelled", {**context, "workshop": f"Soudure {round_}"})
                        for p in people])
    total = await Outbox.count()
    assert total == 24
    mail_server.inbox.refuse_next = 5

    clock = tmp_path / "clock"
    set_clock(clock, now.isoformat())
    env = {**os.environ, "FABBOOKING_DATABASE_URL": db.url, "FABBOOKING_SMTP_URL": mail_server.url}
    processes = [subprocess.Popen([sys.executable, "-c", DRAINING_PROCESS, str(clock)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == b"ready"

        async def settled() -> bool:
            """Nothing claimed, and nothing due at the clock left unsent."""
            at = datetime.fromisoformat(clock.read_text())
            return not await Outbox.exists().where(
                Outbox.claimed_until.is_not_null() | (Outbox.sent_at.is_null() & (Outbox.next_try_at <= at)))

        deadline = time.monotonic() + 120
        while await Outbox.exists().where(Outbox.sent_at.is_null()):
            for process in processes:
                assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "timed out"
            if await settled():  # the back-off of the refused ones: move the clock on
                at = datetime.fromisoformat(clock.read_text())
                set_clock(clock, (at + timedelta(hours=1)).isoformat())
            await asyncio.sleep(0.05)  # polling interval
    finally:
        set_clock(clock, "stop")
        for process in processes:
            process.wait(timeout=30)
    assert mail_server.inbox.refused == 5
    received = [(m["To"], m["Subject"]) for m in mail_server.inbox.received]
    assert len(received) == len(set(received)) == total
    retried = await Outbox.select(Outbox.attempts, Outbox.last_error).where(Outbox.attempts > 0)
    assert sum(r["attempts"] for r in retried) == 5
    assert all(r["last_error"] == "" for r in retried)  # sent in the end: the error is cleared


# --- pages: « Mes e-mails », the proving link, the desk, the outbox for admins ---------------

async def test_a_person_gives_an_address_proves_it_with_the_link_and_chooses_what_to_get(client, world, caplog):
    from tests.web_helpers import browser_login, submit

    await browser_login(client, "maker")
    page = await client.get("/me/notifications")
    assert page.status_code == 200 and "Vous n'avez pas donné d'adresse e-mail." in page.text
    refused = await submit(client, "/me/notifications/address", {"email": "maker at home"}, page="/me/notifications")
    assert refused.status_code == 422 and "Écrivez-la comme prenom@exemple.fr" in refused.text
    answer = await submit(client, "/me/notifications/address", {"email": "Maker@Example.org"}, page="/me/notifications")
    assert answer.status_code == 303 and answer.headers["location"] == "/me/notifications?done=sent"
    page = await client.get("/me/notifications")
    assert "maker@example.org" in page.text and "pas encore confirmée" in page.text
    with caplog.at_level("INFO", logger="fabbooking.mail"):
        await drain(datetime.now(UTC), use_smtp=False)
    [link] = [w for w in caplog.text.split() if "/me/notifications/verify?t=" in w]
    path = link.removeprefix("http://127.0.0.1:8000")
    tampered = await client.get(path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"))
    assert tampered.status_code == 400 and "ne correspond pas" in tampered.text
    client.cookies.clear()  # the link works from another device, signed out
    proved = await client.get(path)
    assert proved.status_code == 200 and "votre adresse e-mail est confirmée" in proved.text
    assert await addresses.reach(world.ids["maker"]) == "reachable"

    await browser_login(client, "maker")
    answer = await submit(client, "/me/notifications/choices", {"booking_reminder": "on"}, page="/me/notifications")
    assert answer.status_code == 303
    assert await addresses.choices(world.ids["maker"]) == {
        k: k == "booking_reminder" for k in await addresses.choices(world.ids["maker"])}
    # the desk sees she can be reached; nobody else's address is shown there
    await browser_login(client, "animator")
    desk = await client.get(f"/desk/atelier/person?maker={world.ids['maker']}")
    assert desk.status_code == 200 and "joignable" in desk.text


async def test_an_address_taken_by_someone_else_is_refused_and_nothing_is_written(client, world):
    from tests.web_helpers import browser_login, submit

    await Account.update({Account.email: "taken@example.org"}).where(Account.id == world.ids["newbie"])
    await browser_login(client, "maker")
    answer = await submit(client, "/me/notifications/address", {"email": "taken@example.org"}, page="/me/notifications")
    assert answer.status_code == 409 and "déjà utilisée" in answer.text
    assert await Outbox.count() == 0
    assert (await Account.select(Account.email).where(Account.id == world.ids["maker"]).first())["email"] is None


async def test_only_admins_see_the_outbox(client, world, mail_server):
    from tests.web_helpers import browser_login

    await give_address(world.ids["maker"], "maker@example.org")
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"), json=booking_body(world.ids["printer"]))
    assert response.status_code == 201
    mail_server.inbox.refuse_next = 1
    await drain(datetime.now(UTC), server=mail_server.server)
    await browser_login(client, "animator")
    assert (await client.get("/manage/outbox")).status_code == 403
    await browser_login(client, "admin")
    page = await client.get("/manage/outbox")
    assert page.status_code == 200
    assert "maker@example.org" in page.text and "Confirmation de mes réservations" in page.text
    assert "à réessayer" in page.text and "451 4.3.0 Try again later" in page.text


# --- TLS: STARTTLS with a login, and TLS from the first byte --------------------------------

@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_the_mail_server_is_reached_over_tls_with_a_login(world, db, tmp_path, monkeypatch, scheme):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from fabbooking.settings import parse_smtp_url
    from tests.conftest import free_port
    from tests.mail_support import Inbox, self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client trusts this certificate, as it would a real one
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        logins.append((auth_data.login, auth_data.password, encrypted))
        return AuthResult(success=auth_data.password == b"p@ss:word")

    inbox, port = Inbox(), free_port()
    if scheme == "smtp":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                                authenticator=authenticator, auth_required=True)
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context,
                                # aiosmtpd offers AUTH over implicit TLS only so (the test checks it is TLS)
                                authenticator=authenticator, auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        await give_address(world.ids["maker"], "maker@example.org")
        await enqueue(Notice(world.ids["maker"], "workshop_cancelled", {
            "workshop": "Soudure", "workshop_id": 1, "site": "Atelier", "timezone": "Europe/Paris",
            "start_at": datetime.now(UTC), "end_at": datetime.now(UTC)}))
        server = parse_smtp_url(f"{scheme}://fab%40lab:p%40ss%3Aword@127.0.0.1:{port}")
        done = await drain(datetime.now(UTC), server=server)
    finally:
        controller.stop()
    assert done.sent == 1, await Outbox.select(Outbox.last_error)
    assert logins == [(b"fab@lab", b"p@ss:word", True)]
    assert [m["Subject"] for m in inbox.received] == ["Atelier annulé : Soudure"]


async def test_an_address_given_when_the_account_is_made_gets_only_the_proving_link(client, world, mail_server):
    response = await client.post("/api/v1/users", headers=world.auth("animator"), json={
        "username": "nouvelle", "password": "secret123", "email": "Nouvelle@Example.org", "language": "en"})
    assert response.status_code == 201, response.text
    account_id = response.json()["id"]
    await qualify(account_id, world.ids["print"])
    response = await client.post("/api/v1/bookings", headers=world.auth("animator"), json=booking_body(
        world.ids["printer"], maker_id=account_id))
    assert response.status_code == 201, response.text  # no confirmation: the address is not proved yet
    await drain(datetime.now(UTC), server=mail_server.server)
    [message] = mail_server.inbox.received
    assert message["To"] == "nouvelle@example.org" and message["Subject"] == "Confirm your e-mail address"
    assert "/me/notifications/verify?t=" in message.get_body(("plain",)).get_content()


async def test_sent_messages_are_forgotten_after_a_month_unsent_ones_are_kept(world, db):
    from fabbooking.notifications.sending import forget_old_messages

    now = datetime.now(UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    common = {"account": world.ids["maker"], "address": "m@example.org", "kind": "booking_confirmed",
              "subject": "s", "text_body": "t", "html_body": "h"}
    await Outbox.insert(Outbox(**common, created_at=old, sent_at=old), Outbox(**common, created_at=recent, sent_at=recent),
                        Outbox(**common, created_at=old, attempts=3), Outbox(**common, created_at=old, attempts=12))
    assert await forget_old_messages(now) == 2
    assert sorted(r["attempts"] for r in await Outbox.select(Outbox.attempts)) == [0, 3]


async def test_a_mail_server_that_is_down_refuses_no_booking_and_is_tried_again_later(client, world):
    from fabbooking.settings import SmtpServer
    from tests.conftest import free_port

    await give_address(world.ids["maker"], "maker@example.org")
    response = await client.post("/api/v1/bookings", headers=world.auth("maker"), json=booking_body(world.ids["printer"]))
    assert response.status_code == 201
    now = datetime.now(UTC)
    down = SmtpServer(host="127.0.0.1", port=free_port(), implicit_tls=False)  # nobody listens there
    assert (await drain(now, server=down)).failed == 1
    row = await Outbox.select(Outbox.attempts, Outbox.next_try_at, Outbox.last_error, Outbox.claimed_until).first()
    assert row["attempts"] == 1 and "ConnectionRefusedError" in row["last_error"]
    assert row["next_try_at"] == now + timedelta(minutes=1) and row["claimed_until"] is None
    assert (await drain(now + timedelta(seconds=30), server=down)).failed == 0  # not due yet
