"""The ``fabbooking`` command: serve, migrate, demo, user create, token create."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable

from fabbooking.errors import CommandFailed
from fabbooking.settings import ConfigError, load_settings

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabbooking",
        description="Book the machines of a network of public fab spaces.",
        epilog="Settings come from FABBOOKING_DATABASE_URL, FABBOOKING_SECRET_KEY and "
        "FABBOOKING_MQTT_URL (see README.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="apply migrations, then serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)

    commands.add_parser("migrate", help="create or update the database tables")
    commands.add_parser("demo", help="load a demo network of Brest fab spaces (idempotent)")

    user = commands.add_parser("user", help="manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = user.add_parser("create", help="create an account")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", required=True, choices=["maker", "animator", "admin"])
    create.add_argument("--email", default=None)
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--site", action="append", default=[], metavar="SLUG",
                        help="a site the animator works at (repeatable)")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    token_create = token.add_parser("create", help="print a new API token for an account")
    token_create.add_argument("--username", required=True)
    token_create.add_argument("--label", default="cli")
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        load_settings()
        handler = HANDLERS[args.command]
        return handler(args) or 0
    except ConfigError as exc:
        print(f"fabbooking: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"fabbooking: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run(coroutine_factory: Callable[[], Awaitable[object]]) -> object:
    """Run an async step, turning database and domain errors into CommandFailed."""
    from fabbooking.errors import Refused
    from fabbooking.messages import pick_language, render

    async def guarded() -> object:
        try:
            return await coroutine_factory()
        except Refused as exc:
            language = pick_language(os.environ.get("LANG", "").replace("_", "-"))
            raise CommandFailed(render(exc.code, language, **exc.params)) from None
        except (OSError, ConnectionError) as exc:
            raise CommandFailed(_unreachable(exc)) from None
        except Exception as exc:
            if _connection_refused(exc):
                raise CommandFailed(_unreachable(exc)) from None
            if _tables_missing(exc):
                raise CommandFailed(
                    f"the database {load_settings().database.label} has no Fabbooking tables "
                    "yet: run 'fabbooking migrate' first."
                ) from None
            raise

    _check_sqlite_opens()
    return asyncio.run(guarded())


# PostgreSQL answered but would not let us in: connection exceptions (08...), wrong user or
# password, unknown database, server starting or shutting down, too many connections.
_REFUSED_SQLSTATES = {"28000", "28P01", "3D000", "57P03", "53300"}


def _connection_refused(exc: BaseException) -> bool:
    """The database could not be opened at all (as opposed to a failing query)."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return "unable to open database file" in str(exc)
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return sqlstate.startswith("08") or sqlstate in _REFUSED_SQLSTATES


def _tables_missing(exc: BaseException) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return "no such table" in str(exc)
    return getattr(exc, "sqlstate", None) == "42P01"  # undefined_table


def _check_sqlite_opens() -> None:
    """Open a SQLite file synchronously first: when aiosqlite fails to open it, its worker
    thread can outlive the event loop and print a stray traceback."""
    import sqlite3

    database = load_settings().database
    if database.kind != "sqlite":
        return
    try:
        sqlite3.connect(database.path).close()
    except sqlite3.Error as exc:
        raise CommandFailed(_unreachable(exc)) from None


def _unreachable(exc: BaseException) -> str:
    database = load_settings().database
    where = database.label
    if database.kind == "sqlite":
        return (f"cannot open the SQLite database {where} ({exc}). Check that "
                "FABBOOKING_DATABASE_URL names a file in a folder you may write to.")
    return (
        f"cannot reach the database {where} ({exc}). Is the server running and is "
        "FABBOOKING_DATABASE_URL right?"
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    from fabbooking.migrations import migrate

    run(migrate)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fabbooking.migrations import migrate

    _check_port_free(args.host, args.port)
    run(lambda: migrate(quiet=True))
    print(f"Fabbooking on http://{args.host}:{args.port}  (API docs: /schema)", flush=True)
    uvicorn.run("fabbooking.app:create_app", factory=True, host=args.host, port=args.port,
                log_level="info", proxy_headers=True)
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandFailed(
                f"cannot listen on {host}:{port} ({exc.strerror}). Another program uses "
                f"this port: stop it, or choose another with --port."
            ) from None


def cmd_demo(args: argparse.Namespace) -> int:
    from fabbooking.demo import load_demo
    from fabbooking.migrations import migrate

    run(lambda: migrate(quiet=True))
    summary = run(load_demo)
    print(summary)
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    from fabbooking.accounts.services import NewAccount, create_account

    new = NewAccount(username=args.username, password=args.password, role=args.role,
                     email=args.email, display_name=args.name, site_slugs=tuple(args.site))
    account = run(lambda: create_account(new))
    print(f"created {account.role} {account.username} (id {account.id})")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from fabbooking.accounts.services import find_account, issue_token

    async def create() -> str:
        account = await find_account(args.username)
        if account is None:
            raise CommandFailed(f"no account named {args.username!r}; create it with "
                                "'fabbooking user create'.")
        return await issue_token(account.id, args.label)

    print(run(create))
    return 0


HANDLERS = {
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "user": cmd_user,
    "token": cmd_token,
}


if __name__ == "__main__":
    raise SystemExit(main())
