"""The ``fabbooking`` command: serve, worker, listen, migrate, demo, backup, restore, user create,
token create."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fabbooking.cli import usage_commands
from fabbooking.cli.guard import run
from fabbooking.errors import CommandFailed, CommandRefused
from fabbooking.ports import port_problem
from fabbooking.settings import ConfigError, load_settings
from fabbooking.usage.partition import Partition, parse_partition

EXIT_USAGE = 2
log = logging.getLogger("fabbooking")


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
    serve.add_argument("--mqtt-port", type=_port, default=None,
                       help="port of the embedded MQTT broker when FABBOOKING_MQTT_URL is not set (default 1884)")
    serve.add_argument("--no-listener", action="store_true",
                       help="do not record machine usage in this process (run 'fabbooking listen' instead)")
    serve.add_argument("--workers", type=_workers, default=1,
                       help="web processes sharing the port (default 1); with more than one, the "
                       "listener and the background jobs run once, in a 'fabbooking worker' beside them")

    commands.add_parser("worker", help="the usage listener and the background jobs (no-show sweep…), without the web app")

    listen = commands.add_parser("listen", help="record machine usage from MQTT, without the web app")
    listen.add_argument("--client-id", default=None,
                        help="MQTT client id (default: fabbooking-listener-K-of-N with --partition, else "
                        "FABBOOKING_MQTT_CLIENT_ID, else fabbooking-listener); each listener process needs its own")
    listen.add_argument("--partition", type=_partition, default=None, metavar="K/N",
                        help="record only the sites in share K of N (run N listeners, 1/N to N/N): "
                        "listeners that add up, each with its own persistent session; see docs/operations.md")
    listen.add_argument("--share-group", default="",
                        help="listeners in one group share the events (MQTT v5 shared subscription); "
                        "off by default, see docs/mqtt.md about broker restarts")

    migrate = commands.add_parser("migrate", help="create or update the database tables")
    migrate.add_argument("--check", action="store_true",
                         help="apply nothing; exit 1 and name the pending migrations if there are any, "
                         "0 when the database is up to date (for deploy scripts)")
    commands.add_parser("demo", help="load a demo network of Brest fab spaces (idempotent)")
    backup = commands.add_parser("backup", help="save the database and the media folder in one archive")
    backup.add_argument("path", type=Path, metavar="PATH",
                        help="the archive to write (.tar.gz), or a folder to write a dated one in")
    restore = commands.add_parser("restore", help="put a backup back into an empty database and media folder")
    restore.add_argument("path", type=Path, metavar="PATH", help="an archive written by 'fabbooking backup'")
    restore.add_argument("--force", action="store_true",
                         help="replace the database and media folder even if they hold data (it is lost)")

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
    usage_commands.add_parsers(commands)
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
    except CommandRefused as exc:
        print(f"fabbooking: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"fabbooking: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_migrate(args: argparse.Namespace) -> int:
    from fabbooking.migrations import migrate, pending_migrations

    if not args.check:
        run(migrate)
        return 0
    pending = run(pending_migrations)
    assert isinstance(pending, list)
    if pending:
        print(f"{len(pending)} migration(s) pending: {', '.join(pending)}. "
              "Run 'fabbooking migrate' to apply them.")
        return 1
    print("The database is up to date: no migration pending.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from fabbooking.migrations import migrate
    from fabbooking.observability.logs import configure_logging, logging_config

    _check_port_free(args.host, args.port)
    if args.no_listener:
        os.environ["FABBOOKING_LISTENER"] = "off"
    if args.mqtt_port:
        os.environ["FABBOOKING_MQTT_EMBEDDED_PORT"] = str(args.mqtt_port)
    if os.environ.get("FABBOOKING_LISTENER", "on") != "off" and not load_settings().mqtt_url:
        from fabbooking.usage.embedded_broker import DEFAULT_PORT, check_port_free

        check_port_free(int(os.environ.get("FABBOOKING_MQTT_EMBEDDED_PORT", DEFAULT_PORT)))
    run(lambda: migrate(quiet=True))
    # one log format for every process and line (FABBOOKING_LOG_FORMAT=json: every line is
    # JSON); our request lines replace uvicorn's access log
    log_format = load_settings().log_format
    logs = {"log_config": logging_config(log_format), "access_log": False}
    configure_logging(log_format)
    log.info("Fabbooking on http://%s:%d  (API docs: /schema)", args.host, args.port)
    if args.workers == 1:
        uvicorn.run("fabbooking.app:create_app", factory=True, host=args.host, port=args.port,
                    log_level="info", proxy_headers=True, **logs)
        return 0
    # Several web processes: the background jobs run once, in one worker process beside them.
    # They all count into one folder, and the web process that answers /metrics adds it up.
    metrics_dir = tempfile.mkdtemp(prefix="fabbooking-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    background = subprocess.Popen([sys.executable, "-m", "fabbooking", "worker"])
    os.environ["FABBOOKING_BACKGROUND"] = "off"
    try:
        uvicorn.run("fabbooking.app:create_app", factory=True, host=args.host, port=args.port,
                    log_level="info", proxy_headers=True, workers=args.workers, **logs)
    finally:
        background.terminate()
        try:
            background.wait(timeout=10)
        except subprocess.TimeoutExpired:
            background.kill()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from fabbooking.migrations import migrate
    from fabbooking.observability.logs import configure_logging
    from fabbooking.usage.runtime import run_background

    if os.environ.get("FABBOOKING_LISTENER", "on") != "off" and not load_settings().mqtt_url:
        from fabbooking.usage.embedded_broker import DEFAULT_PORT, check_port_free

        check_port_free(int(os.environ.get("FABBOOKING_MQTT_EMBEDDED_PORT", DEFAULT_PORT)))
    run(lambda: migrate(quiet=True))
    configure_logging(load_settings().log_format)
    log.info("Fabbooking worker: machine usage and the background jobs")
    run(run_background, until_stopped=True)
    return 0


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 to 64")
    return value


def _partition(text: str) -> Partition:
    try:
        return parse_partition(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_port_free(host: str, port: int) -> None:
    if problem := port_problem(host, port):
        raise CommandFailed(
            f"cannot listen on {host}:{port} ({problem}). Another program uses "
            f"this port: stop it, or choose another with --port."
        )


def listen_client_id(args: argparse.Namespace) -> str:
    """--client-id; else, with --partition, one id per share (never FABBOOKING_MQTT_CLIENT_ID:
    set once for all the listeners of a host, it would give N listeners one session);
    else FABBOOKING_MQTT_CLIENT_ID, else fabbooking-listener."""
    if args.client_id:
        return args.client_id
    if args.partition:
        return args.partition.client_id
    return os.environ.get("FABBOOKING_MQTT_CLIENT_ID", "fabbooking-listener")


def cmd_listen(args: argparse.Namespace) -> int:
    from fabbooking.usage.command import listen

    if args.partition and args.share_group:
        print("fabbooking listen: --partition and --share-group do not go together: listeners with "
              "--partition already share the work; drop --share-group", file=sys.stderr)
        return EXIT_USAGE
    run(lambda: listen(listen_client_id(args), args.share_group, args.partition), until_stopped=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fabbooking.demo import load_demo
    from fabbooking.migrations import migrate

    run(lambda: migrate(quiet=True))
    summary = run(load_demo)
    print(summary)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from fabbooking.backups.commands import backup

    with _files_refused():
        print(backup(args.path))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from fabbooking.backups.commands import restore

    with _files_refused():
        print(restore(args.path, args.force))
    return 0


@contextlib.contextmanager
def _files_refused() -> Iterator[None]:
    """A folder that cannot be written, a full disk: a sentence, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise CommandRefused(
            f"cannot write {exc.filename or 'a file'} ({exc.strerror or exc}). Check that the folder "
            "exists, that this user may write in it and that the disk is not full. Nothing was changed."
        ) from None


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
    **usage_commands.HANDLERS,
    "serve": cmd_serve,
    "listen": cmd_listen,
    "worker": cmd_worker,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "user": cmd_user,
    "token": cmd_token,
}


if __name__ == "__main__":
    raise SystemExit(main())
