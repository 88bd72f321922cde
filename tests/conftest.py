"""One fixture set for the whole suite.

Every database test runs twice: on SQLite and on PostgreSQL. Each database is created
empty and migrated by the real ``fabbooking migrate`` command once per session; each test
then gets a fresh copy (SQLite) or truncated tables (PostgreSQL).

PostgreSQL comes from FABBOOKING_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres). Without it, PostgreSQL tests skip with a
message, except under CI=true where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

_VAR = Path(tempfile.mkdtemp(prefix="fabbooking-tests-"))
os.environ["FABBOOKING_VAR_DIR"] = str(_VAR)
os.environ["FABBOOKING_DATABASE_URL"] = f"sqlite:///{_VAR}/imported.sqlite3"
os.environ.pop("FABBOOKING_MQTT_URL", None)
# Server processes started by tests record no usage unless a test turns it on with its broker.
os.environ["FABBOOKING_LISTENER"] = "off"

import httpx  # noqa: E402
from piccolo.engine.postgres import PostgresEngine  # noqa: E402

from fabbooking import database  # noqa: E402
from fabbooking.accounts.services import issue_token  # noqa: E402
from fabbooking.accounts.tables import Account  # noqa: E402
from fabbooking.app import create_app  # noqa: E402
from fabbooking.network.tables import Machine, OpeningPeriod, Site, Staff  # noqa: E402
from fabbooking.settings import parse_database_url  # noqa: E402
from fabbooking.training.tables import Qualification, Training  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")


@contextlib.contextmanager
def in_the_paris_afternoon_if(too_late: int, too_early: int):
    """Run the block at 15:07 in Paris, the same day, when Paris's hour now is ``too_late``
    or later, or before ``too_early``: for a test whose moments ("the last hour", "the next
    hour") must fall on one Paris day. Otherwise, at the real time."""
    local = datetime.now(PARIS)
    if local.hour >= too_late or local.hour < too_early:
        import time_machine

        with time_machine.travel(local.replace(hour=15, minute=7), tick=True):
            yield
    else:
        yield
PASSWORD = "secret123"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get(
    "FABBOOKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def run_blocking(coroutine):
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    """A TCP port nobody listens on right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing_service(message: str) -> None:
    """Fail under CI (a missing service there is a broken set-up), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: required)", pytrace=False)
    pytest.skip(message)


# --- anyio: every async test and fixture runs on asyncio ---------------------------

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock", metavar="MOMENT",
        help="run the tests as if it were MOMENT (ISO 8601 with its offset, e.g. 2026-12-31T23:30:00+01:00); "
             "time still passes from there. Only for tests that run in this process: servers started "
             "as other processes keep the real clock.")


def pytest_configure(config: pytest.Config) -> None:
    moment = config.getoption("--clock", default=None)
    if moment:
        import time_machine

        config.stash[CLOCK] = time_machine.travel(datetime.fromisoformat(moment), tick=True)
        config.stash[CLOCK].start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if CLOCK in config.stash:
        config.stash[CLOCK].stop()


CLOCK = pytest.StashKey[object]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.function):
            item.add_marker(pytest.mark.anyio)


# --- databases ---------------------------------------------------------------------

def run_cli(*args: str, url: str, check: bool = True, timeout: float = 120,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FABBOOKING_DATABASE_URL": url, **(extra_env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "fabbooking", *args], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"fabbooking {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    run_cli("migrate", url=f"sqlite:///{path}")
    return path


async def _postgres_reachable(url: str) -> str | None:
    import asyncpg

    try:
        connection = await asyncpg.connect(url, timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


def postgres_url(name: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def create_postgres_database() -> str:
    problem = run_blocking(_postgres_reachable(POSTGRES_ADMIN_URL))
    if problem:
        missing_service(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({problem}). Start it, "
            "or set FABBOOKING_TEST_POSTGRES_URL to a server where you may create databases."
        )
    name = f"fabbooking_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        import asyncpg

        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    run_blocking(create())
    return name


def drop_postgres_database(name: str) -> None:
    async def drop() -> None:
        import asyncpg

        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    run_blocking(drop())


@pytest.fixture(scope="session")
def postgres_database() -> str:
    name = create_postgres_database()
    url = postgres_url(name)
    try:
        run_cli("migrate", url=url)
        yield url
    finally:
        drop_postgres_database(name)


@dataclass
class Database:
    kind: str
    url: str
    engine: object


async def _truncate(engine: PostgresEngine) -> None:
    names = ", ".join(f'"{t._meta.tablename}"' for t in database.app_tables())
    await engine._run_in_new_connection(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path):
    """A migrated, empty database that every table (and the app) now uses."""
    if request.param == "sqlite":
        path = tmp_path / "fabbooking.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        engine = database.build_engine(parse_database_url(url))
        database.use_engine(engine)
        try:
            yield Database("sqlite", url, engine)
        finally:
            await engine.close_pool()
        return
    url = request.getfixturevalue("postgres_database")
    engine = database.build_engine(parse_database_url(url))  # the app's own (postgres_engine.py)
    assert isinstance(engine, PostgresEngine)
    await _truncate(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    database.use_engine(engine)
    try:
        yield Database("postgres", url, engine)
    finally:
        await engine.close_connection_pool()


@pytest.fixture(scope="session")
def app():
    """Built once: the app holds no database state (tables follow database.use_engine)."""
    return create_app(use_pool=False, run_usage=False)


@pytest.fixture
async def client(db: Database, app):
    # httpx's ASGI transport runs the app on the test's own event loop, where the
    # database pool lives (Litestar's AsyncTestClient runs it on another thread's loop).
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client


# --- a small network to test against ------------------------------------------------

_PASSWORD_HASH: list[str] = []


def password_hash() -> str:
    """Hashing is deliberately slow: hash the shared test password once per session."""
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(Account.hash_password(PASSWORD))
    return _PASSWORD_HASH[0]


async def make_account(username: str, role: str = "maker", sites: tuple[int, ...] = ()) -> int:
    rows = await Account.insert(Account(
        username=username, password=password_hash(), display_name=username.title(),
        role=role, active=True, admin=role == "admin", superuser=role == "admin",
    )).returning(Account.id)
    for site_id in sites:
        await Staff.insert(Staff(site=site_id, account=rows[0]["id"]))
    return rows[0]["id"]


async def make_site(slug: str, opens: str = "08:00", closes: str = "20:00", **rules) -> int:
    rows = await Site.insert(Site(slug=slug, name=slug.replace("-", " ").title(), **rules)
                             ).returning(Site.id)
    await OpeningPeriod.insert(*[
        OpeningPeriod(site=rows[0]["id"], weekday=d, opens=time.fromisoformat(opens),
                      closes=time.fromisoformat(closes))
        for d in range(7)
    ])
    return rows[0]["id"]


async def make_machine(site_id: int, slug: str, kind: str = "3d_printer",
                       training_id: int | None = None, **values) -> int:
    rows = await Machine.insert(Machine(site=site_id, slug=slug, name=slug.title(), kind=kind,
                                        required_training=training_id, **values)
                                ).returning(Machine.id)
    return rows[0]["id"]


async def qualify(account_id: int, training_id: int, expires_on: date | None = None) -> None:
    await Qualification.insert(Qualification(account=account_id, training=training_id,
                                             granted_on=date.today(), expires_on=expires_on))


@dataclass
class World:
    """Site « atelier » (open every day 08:00–20:00, Paris) with a 3D printer and a laser;
    site « ailleurs » with one printer. People: admin, animator (of atelier), stranger
    (animator of ailleurs), maker (3D printing training), newbie (no training)."""

    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def world(db: Database) -> World:
    w = World()
    w.ids["atelier"] = await make_site("atelier")
    w.ids["ailleurs"] = await make_site("ailleurs")
    w.ids["print"] = (await Training.insert(Training(
        slug="impression-3d", name="Impression 3D – initiation", unlocks_kinds=["3d_printer"]
    )).returning(Training.id))[0]["id"]
    w.ids["laser_training"] = (await Training.insert(Training(
        slug="laser", name="Découpe laser – initiation", unlocks_kinds=["laser_cutter"]
    )).returning(Training.id))[0]["id"]
    w.ids["printer"] = await make_machine(w.ids["atelier"], "printer", training_id=w.ids["print"])
    w.ids["laser"] = await make_machine(w.ids["atelier"], "laser", kind="laser_cutter",
                                        training_id=w.ids["laser_training"])
    w.ids["far_printer"] = await make_machine(w.ids["ailleurs"], "far-printer",
                                              training_id=w.ids["print"])
    w.ids["admin"] = await make_account("admin", "admin")
    w.ids["animator"] = await make_account("animator", "animator", (w.ids["atelier"],))
    w.ids["stranger"] = await make_account("stranger", "animator", (w.ids["ailleurs"],))
    w.ids["maker"] = await make_account("maker")
    w.ids["newbie"] = await make_account("newbie")
    await qualify(w.ids["maker"], w.ids["print"])
    for who in ("admin", "animator", "stranger", "maker", "newbie"):
        w.tokens[who] = await issue_token(w.ids[who])
    return w


def local_slot(days_ahead: int, start: str, minutes: int = 60) -> tuple[str, str]:
    """ISO start and end, with offset, ``days_ahead`` local days from today in Paris."""
    day = datetime.now(PARIS).date() + timedelta(days=days_ahead)
    begin = datetime.combine(day, time.fromisoformat(start), tzinfo=PARIS)
    return begin.isoformat(), (begin + timedelta(minutes=minutes)).isoformat()


def booking_body(machine_id: int, days_ahead: int = 2, start: str = "10:00",
                 minutes: int = 60, **extra) -> dict:
    begin, end = local_slot(days_ahead, start, minutes)
    return {"machine_id": machine_id, "start": begin, "end": end, **extra}


# The real Mosquitto fixture, for every test module that asks for ``mosquitto``.
from tests.mqtt_support import mosquitto  # noqa: E402, F401
