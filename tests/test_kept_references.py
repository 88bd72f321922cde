"""The references a booking rests on (a machine with its site's rules and calendar, the
trainings a maker holds, who a token names) are kept between requests
(fabbooking/references/kept.py), and yet every change counts on the very next request, on
SQLite and PostgreSQL, whoever writes it: the database's triggers move the counters that
the kept values are checked against."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import pytest
from piccolo.querystring import QueryString

from fabbooking import database
from fabbooking.accounts.tables import Account, ApiToken
from fabbooking.network import services as network
from fabbooking.network.tables import Closure, Machine, OpeningPeriod, Site, Staff
from fabbooking.references import kept
from fabbooking.references.piccolo_migrations.references_2026_12_06t03_00_00_000000 import WATCHED
from fabbooking.settings import parse_database_url
from fabbooking.training.tables import Qualification, Training
from tests.conftest import PARIS, World, booking_body
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio


async def _book(client, world: World, days_ahead: int, who: str = "maker", **extra):
    return await client.post("/api/v1/bookings", headers=world.auth(who),
                             json=booking_body(world.ids["printer"], days_ahead, **extra))


async def _in_maintenance(world: World) -> None:
    await Machine.update({Machine.status: "maintenance"}).where(Machine.id == world.ids["printer"])


async def _shorter_bookings(world: World) -> None:
    await Site.update({Site.max_minutes: 30}).where(Site.id == world.ids["atelier"])


async def _no_opening_hours(world: World) -> None:
    await OpeningPeriod.delete().where(OpeningPeriod.site == world.ids["atelier"])


async def _closed_for_days(world: World) -> None:
    today = datetime.now(PARIS).date()
    await Closure.insert(Closure(site=world.ids["atelier"], start_date=today, end_date=today + timedelta(days=30),
                                 reason="travaux"))


async def _training_taken_back(world: World) -> None:
    await Qualification.delete().where(Qualification.account == world.ids["maker"])


async def _another_training_required(world: World) -> None:
    # (the maker's 3D printing training unlocks every 3D printer: the machine becomes a laser)
    await Machine.update({Machine.required_training: world.ids["laser_training"], Machine.kind: "laser_cutter"}
                         ).where(Machine.id == world.ids["printer"])


# what changes, and the refusal it brings on the next booking
CHANGES: dict[str, tuple[Callable[[World], Awaitable[None]], int, str]] = {
    "machine in maintenance": (_in_maintenance, 422, "machine_in_maintenance"),
    "site's rules": (_shorter_bookings, 422, "too_long"),
    "opening hours": (_no_opening_hours, 422, "outside_opening_hours"),
    "closure": (_closed_for_days, 422, "site_closed"),
    "qualification": (_training_taken_back, 403, "not_qualified"),
    "machine's training": (_another_training_required, 403, "not_qualified"),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_change_to_what_a_booking_rests_on_counts_at_once(client, world, change):
    write, status, code = CHANGES[change]
    assert (await _book(client, world, 2)).status_code == 201  # everything read, and kept
    assert (await _book(client, world, 3)).status_code == 201  # kept
    await write(world)
    refused = await _book(client, world, 4)
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text


async def test_a_renamed_training_shows_in_the_next_refusal(client, world):
    assert (await _book(client, world, 2, who="newbie")).json()["code"] == "not_qualified"
    await Training.update({Training.name: "Impression 3D – les bases"}).where(Training.id == world.ids["print"])
    refused = await _book(client, world, 2, who="newbie")
    assert "Impression 3D – les bases" in refused.json()["detail"], refused.text


async def test_a_revoked_token_or_a_closed_account_is_refused_at_once(client, world):
    assert (await _book(client, world, 2)).status_code == 201
    await ApiToken.delete().where(ApiToken.account == world.ids["maker"])
    assert (await _book(client, world, 3)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=world.auth("admin"))).status_code == 200
    await Account.update({Account.active: False}).where(Account.id == world.ids["admin"])
    assert (await client.get("/api/v1/users/me", headers=world.auth("admin"))).status_code == 401


async def test_an_animator_who_leaves_a_site_no_longer_books_for_others_there(client, world):
    for_maker = {"maker_id": world.ids["maker"]}
    assert (await _book(client, world, 2, who="animator", **for_maker)).status_code == 201
    await Staff.delete().where(Staff.account == world.ids["animator"])
    refused = await _book(client, world, 3, who="animator", **for_maker)
    assert (refused.status_code, refused.json()["code"]) == (403, "on_behalf_needs_staff"), refused.text


async def test_a_change_written_by_another_process_counts_at_once(client, world, db):
    """Another process (the admin's `fabbooking` command, a second web process) writes with
    its own connection: the triggers are in the database, so it moves the counters too."""
    assert (await _book(client, world, 2)).status_code == 201
    sql = "UPDATE machine SET status = 'out_of_order' WHERE id = {}".format(world.ids["printer"])
    if db.kind == "sqlite":
        with sqlite3.connect(db.url.removeprefix("sqlite:///")) as other:
            other.execute(sql)
    else:
        other = await asyncpg.connect(db.url)
        try:
            await other.execute(sql)
        finally:
            await other.close()
    refused = await _book(client, world, 3)
    assert refused.json()["code"] == "machine_out_of_order", refused.text


async def test_what_a_rolled_back_transaction_saw_is_not_kept(client, world):
    """Read inside a transaction that put the machine in maintenance, then rolled back: the
    next booking sees the machine as it is (available), not as the transaction saw it."""
    await network.machine_place(world.ids["printer"])  # kept as available

    class Undone(Exception):
        pass

    with pytest.raises(Undone):
        async with database.write_transaction():
            await _in_maintenance(world)
            place = await network.machine_place(world.ids["printer"])
            assert place.facts.status == "maintenance"  # the transaction's own write, not what was kept
            raise Undone
    # another write brings the counter where the transaction had taken it
    await Machine.update({Machine.name: "Imprimante"}).where(Machine.id == world.ids["printer"])
    place = await network.machine_place(world.ids["printer"])
    assert (place.facts.status, place.machine["name"]) == ("available", "Imprimante")
    assert (await _book(client, world, 2)).status_code == 201


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # a copy of the file: the same counters
async def test_kept_references_are_read_again_on_another_database(client, world, db, tmp_path):
    """Keyed by the engine: a process that switches databases (tests, commands) never uses
    what it kept from the other one, even where both hold the same counters (a copy)."""
    place = await network.machine_place(world.ids["printer"])
    with counting_statements() as seen:
        assert await network.machine_place(world.ids["printer"]) == place
    assert len(seen) == 1  # kept: the counters alone
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(db.url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as target:
        target.execute("DROP TRIGGER reference_machine_update")  # the copy's counter stays as it was
        target.execute(f"UPDATE machine SET status = 'out_of_order' WHERE id = {world.ids['printer']}")
    other = database.build_engine(parse_database_url(f"sqlite:///{copy}"))
    database.use_engine(other)
    try:
        assert await kept.counters() == await kept.counters(db.engine)
        assert (await network.machine_place(world.ids["printer"])).facts.status == "out_of_order"
    finally:
        database.use_engine(db.engine)
        await other.close_pool()




async def trigger_names(engine) -> set[str]:
    """The references' triggers the database holds."""
    sql = ("SELECT tgname AS name FROM pg_trigger WHERE tgname LIKE 'reference_%' AND tgenabled = 'A'"
           if database.is_postgres(engine) else
           "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'reference_%'")
    rows = engine.transform_response_to_dicts(await engine.run_querystring(QueryString(sql)))
    return {row["name"] for row in rows}


def expected_triggers(kind: str) -> set[str]:
    events = ("written", "updated") if kind == "postgres" else ("insert", "update", "delete")
    return {f"reference_{table}_{event}" for table in WATCHED for event in events}


async def test_every_watched_table_has_its_triggers(db, world):
    """A trigger lost (a table rebuilt, triggers disabled) would leave what is kept stale for
    good: after migrating, every watched table has all of its own, enabled (PostgreSQL:
    ALWAYS, replication's replica role included), and a counter."""
    assert await trigger_names(db.engine) == expected_triggers(db.kind)
    assert set(await kept.counters()) == set(WATCHED)
    named = {table for kept_values in kept._EVERY for table in kept_values.tables}
    assert named and named <= set(WATCHED), named - set(WATCHED)  # nothing is kept on a table no trigger counts


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("username", "maker-renamed", ("username", "maker-renamed")),
    ("role", "animator", ("role", "animator")),
    ("language", "en", ("language", "en")),
])
async def test_who_a_token_names_is_read_again_when_the_account_changes(client, world, column, value, shown):
    me = await client.get("/api/v1/users/me", headers=world.auth("maker"))
    assert me.status_code == 200 and me.json()[shown[0]] != shown[1]
    await Account.update({getattr(Account, column): value}).where(Account.id == world.ids["maker"])
    me = await client.get("/api/v1/users/me", headers=world.auth("maker"))
    assert me.json()[shown[0]] == shown[1], me.text


async def test_a_login_or_a_new_password_keeps_what_is_kept(client, world):
    """Only the columns that say who someone is count: a login's timestamp or a new
    password's hash leave the counters (and what is kept) as they were."""
    before = await kept.counters()
    await Account.update({Account.last_login: datetime.now(), Account.password: "x"}).where(
        Account.id == world.ids["maker"])
    assert await kept.counters() == before


async def test_a_training_granted_counts_at_once(client, world):
    assert (await _book(client, world, 2, who="newbie")).json()["code"] == "not_qualified"
    await Qualification.insert(Qualification(account=world.ids["newbie"], training=world.ids["print"],
                                             granted_on=datetime.now(PARIS).date()))
    assert (await _book(client, world, 2, who="newbie")).status_code == 201


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite has one writer at a time
async def test_two_transactions_writing_watched_tables_in_opposite_orders_both_commit(db, world):
    """Creating an account writes account then staff; erasing one, staff then account. The
    counters' rows would deadlock them (each holding one, waiting for the other's): the
    advisory lock the triggers take first makes the second wait for the first instead."""
    first, second = await asyncpg.connect(db.url), await asyncpg.connect(db.url)
    try:
        await first.execute("BEGIN")
        await first.execute(f"INSERT INTO staff (site, account) VALUES ({world.ids['ailleurs']}, {world.ids['maker']})")

        async def the_other_order() -> None:
            async with second.transaction():
                await second.execute(f"UPDATE account SET role = 'animator' WHERE id = {world.ids['newbie']}")
                await second.execute(
                    f"INSERT INTO staff (site, account) VALUES ({world.ids['ailleurs']}, {world.ids['newbie']})")

        other = asyncio.create_task(the_other_order())
        pid = second.get_server_pid()
        for _ in range(500):  # until the second transaction waits for a lock the first holds
            if await first.fetchval("SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", pid):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second transaction never waited for the first")
        await first.execute(f"UPDATE account SET role = 'animator' WHERE id = {world.ids['maker']}")
        await first.execute("COMMIT")
        await asyncio.wait_for(other, 10)
    finally:
        await first.close()
        await second.close()
    staff = await Staff.select(Staff.account).where(Staff.site == world.ids["ailleurs"])
    assert {world.ids["maker"], world.ids["newbie"]} <= {row["account"] for row in staff}


async def test_the_counters_are_one_short_read(db, world):
    with counting_statements() as seen:
        await kept.counters()
    assert len(seen) == 1 and "reference_change" in seen.sql[0]


@pytest.mark.parametrize("who, on_behalf", [("maker", False), ("animator", True)])
async def test_the_answer_to_a_booking_is_the_row_as_it_is_read_back(client, world, who, on_behalf):
    """A booking's answer is built from what was written and the kept machine, not read back:
    it must say exactly what reading the booking gives (times in UTC whatever offset was sent,
    the note as kept, the maker's names, the machine's and the site's deadlines)."""
    await Machine.update({Machine.cancel_deadline_minutes: 90, Machine.name: "Prusa « MK4 »"}
                         ).where(Machine.id == world.ids["printer"])
    await Account.update({Account.display_name: "Maëlle Kerbrat"}).where(Account.id == world.ids["maker"])
    extra = {"note": "  pièce de vélo  "} | ({"maker_id": world.ids["maker"]} if on_behalf else {})
    made = await _book(client, world, 2, who, **extra)  # everything read
    kept_made = await _book(client, world, 3, who, **extra)  # machine and trainings kept
    for answer in (made, kept_made):
        assert answer.status_code == 201, answer.text
        booking = answer.json()
        read = await client.get(f"/api/v1/bookings/{booking['id']}", headers=world.auth(who))
        assert booking == read.json()
        assert (booking["machine_name"], booking["maker_name"], booking["note"]) == (
            "Prusa « MK4 »", "Maëlle Kerbrat", "pièce de vélo")
        assert booking["on_behalf"] is on_behalf and booking["start"].endswith("Z")


@pytest.mark.parametrize("who", ["maker", "maker with a proved address", "animator for the maker",
                                 "animator for a workshop"])
async def test_a_booking_made_gives_every_column_of_its_row_read_back(db, world, who):
    """The same at the service, for every column the pages use (purpose, site, deadlines):
    a maker's own booking (the maker locked on PostgreSQL), one that sends a confirmation,
    one made at the desk, a machine held for a workshop."""
    from fabbooking.accounts.viewer import Viewer
    from fabbooking.bookings import services as bookings
    from fabbooking.bookings.tables import BookingPurpose
    from fabbooking.notifications import addresses

    maker = Viewer(account_id=world.ids["maker"], username="maker", role="maker")
    animator = Viewer(account_id=world.ids["animator"], username="animator", role="animator",
                      staff_site_ids=frozenset({world.ids["atelier"]}))
    viewer, extra = {
        "maker": (maker, {}),
        "maker with a proved address": (maker, {}),
        "animator for the maker": (animator, {"maker_id": world.ids["maker"]}),
        "animator for a workshop": (animator, {"purpose": BookingPurpose.workshop}),
    }[who]
    if who == "maker with a proved address":
        await Account.update({Account.email: "maker@example.org"}).where(Account.id == world.ids["maker"])
        await addresses.mark_proved(world.ids["maker"], "maker@example.org", datetime.now(PARIS))
    start = datetime.fromisoformat(booking_body(world.ids["printer"], 4)["start"])
    for days in (0, 1):  # the machine's place read, then kept
        made = await bookings.book(viewer, world.ids["printer"], start + timedelta(days=days),
                                   start + timedelta(days=days, hours=1), datetime.now(PARIS), note=" x ", **extra)
        assert made == await bookings._booking_row(made["id"])
        assert made["start_at"].utcoffset() == timedelta(0) and made["site_cancel_deadline_minutes"] is not None
