"""What bench/http.py and bench/scale.py share: which checkout runs, its servers, a scratch
PostgreSQL database, and the machine the figures come from.

Every Fabbooking process runs from ``--root`` (cwd and PYTHONPATH), with the project's
virtualenv, so a baseline worktree and the working tree are measured by the same script.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
DEFAULT_ROOT = BENCH.parent
PYTHON = os.environ.get("FABBOOKING_BENCH_PYTHON", str(DEFAULT_ROOT / ".venv" / "bin" / "python"))
POSTGRES_ADMIN_URL = os.environ.get("FABBOOKING_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def checkout_env(root: Path, workdir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a Fabbooking process of ``root``: its code first on the path, a
    scratch FABBOOKING_VAR_DIR, and the database (the var dir's SQLite file when None)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FABBOOKING_")}
    env.update(PYTHONPATH=str(root), FABBOOKING_VAR_DIR=str(workdir), PYTHONUNBUFFERED="1", **extra)
    if database_url:
        env["FABBOOKING_DATABASE_URL"] = database_url
    return env


def run_python(root: Path, env: dict[str, str], *args: str, timeout: float = 600,
               stdin: str | None = None) -> str:
    """Run ``python *args`` in ``root``; its stdout, or an error with its output."""
    result = subprocess.run([PYTHON, *args], cwd=root, env=env, capture_output=True, text=True,
                            timeout=timeout, input=stdin)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)[:200]} failed ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def wait_until_answering(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early ({process.returncode}):\n"
                                   f"{log.read_text(errors='replace')[-3000:]}")
            try:
                if http.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling interval
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT_S}s")


@contextlib.contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], health_url: str,
            log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until_answering(health_url, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def demo_server(root: Path, workdir: Path, database_url: str | None = None, workers: int = 1) -> Iterator[str]:
    """``fabbooking demo`` then ``fabbooking serve`` as the README runs them (embedded
    broker on a free port; ``--workers`` when more than one); yields the base URL."""
    env = checkout_env(root, workdir, database_url)
    run_python(root, env, "-m", "fabbooking", "demo")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [PYTHON, "-m", "fabbooking", "serve", "--port", str(port), "--mqtt-port", str(free_port())]
    if workers > 1:
        command += ["--workers", str(workers)]
    with serving(command, root, env, f"{base}/healthz", workdir / "serve.log"):
        yield base


HELLO_WORLD = '''
from typing import Any

from litestar import Litestar, get, post


@get("/", media_type="text/plain")
async def hello() -> str:
    return "Hello, world!"


@post("/echo", status_code=200)
async def echo(data: dict[str, Any]) -> dict[str, Any]:
    return data


app = Litestar([hello, echo])
'''


@contextlib.contextmanager
def hello_world_server(workdir: Path) -> Iterator[str]:
    """A Litestar hello world (``GET /`` and an echo ``POST /echo``) under uvicorn, one
    worker, with uvicorn's defaults as ``fabbooking serve`` has them (access log on)."""
    (workdir / "hello_world.py").write_text(HELLO_WORLD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [PYTHON, "-m", "uvicorn", "hello_world:app", "--port", str(port), "--workers", "1"]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with serving(command, workdir, env, f"{base}/", workdir / "hello.log"):
        yield base


async def postgres_admin(statement: str, fetch: bool = False):
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        return await (connection.fetchval(statement) if fetch else connection.execute(statement))
    finally:
        await connection.close()


def postgres_reachable() -> bool:
    try:
        asyncio.run(postgres_admin("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database on FABBOOKING_TEST_POSTGRES_URL's server, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def database(kind: str, workdir: Path, prefix: str) -> Iterator[str]:
    """A database URL of ``kind`` (sqlite or postgres), empty, removed afterwards."""
    if kind == "postgres":
        with postgres_database(prefix) as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'fabbooking.sqlite3'}"


def remove(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)


def git_commit(root: Path) -> str:
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "fabbooking", "templates"],
                           capture_output=True, text=True).stdout.strip()
    return (result.stdout.strip() or "?") + (" + uncommitted changes" if dirty else "")


def machine_description(with_postgres: bool) -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    python = subprocess.run([PYTHON, "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True).stdout.strip()
    postgres = ""
    if with_postgres:
        with contextlib.suppress(Exception):
            postgres = ", PostgreSQL " + asyncio.run(postgres_admin("SHOW server_version", fetch=True))
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {python}, SQLite {sqlite3.sqlite_version}{postgres}{load}")
