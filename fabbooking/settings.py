"""Configuration read from the environment, checked once, with errors a person can act on."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_VAR_DIR = Path("var")
MIN_SECRET_LENGTH = 32
LOG_FORMATS = ("text", "json")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_DB_TIMEOUT_S = 5.0
DEFAULT_DB_POOL_SIZE = 10


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which one and how to fix it."""


@dataclass(frozen=True)
class DatabaseUrl:
    kind: str  # "sqlite" | "postgres"
    path: str = ""  # sqlite file
    dsn: str = ""  # postgres DSN

    @property
    def label(self) -> str:
        return self.path if self.kind == "sqlite" else _hide_password(self.dsn)


@dataclass(frozen=True)
class Settings:
    database: DatabaseUrl
    secret_key: str
    mqtt_url: str | None
    var_dir: Path
    public_url: str = "http://127.0.0.1:8000"
    metrics_allow: tuple[Network, ...] = ()
    log_format: str = "text"

    @property
    def https(self) -> bool:
        """Served over HTTPS: cookies are marked Secure and the back office runs in production mode."""
        return self.public_url.startswith("https://")


def parse_database_url(url: str) -> DatabaseUrl:
    """Accept ``sqlite:///path`` or ``postgresql://user:pass@host:port/db``."""
    url = url.strip()
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ConfigError(
                "FABBOOKING_DATABASE_URL=sqlite:/// has no file path. "
                "Write it like sqlite:///var/fabbooking.sqlite3 (relative) "
                "or sqlite:////srv/fabbooking/db.sqlite3 (absolute)."
            )
        return DatabaseUrl(kind="sqlite", path=path)
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(
                "FABBOOKING_DATABASE_URL must name a host and a database, "
                "like postgresql://fabbooking:secret@127.0.0.1:5432/fabbooking."
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ConfigError(
                f"FABBOOKING_DATABASE_URL has a bad port in {_hide_password(url)!r}; "
                "use a number like 5432."
            ) from None
        return DatabaseUrl(kind="postgres", dsn=url)
    raise ConfigError(
        f"FABBOOKING_DATABASE_URL={_hide_password(url)!r} is not understood. "
        "Use sqlite:///var/fabbooking.sqlite3 or "
        "postgresql://user:password@host:5432/database."
    )


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _secret_key(var_dir: Path) -> str:
    key = os.environ.get("FABBOOKING_SECRET_KEY")
    if key is not None:
        if len(key) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"FABBOOKING_SECRET_KEY is too short ({len(key)} characters, "
                f"at least {MIN_SECRET_LENGTH} needed). Generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return key
    # Development default: generated once and kept, so sessions survive a restart.
    key_file = var_dir / "secret_key"
    try:
        existing = key_file.exists()
        if existing:
            stored = key_file.read_text().strip()
            if len(stored) >= MIN_SECRET_LENGTH:
                return stored
        var_dir.mkdir(parents=True, exist_ok=True)
        # Written whole to a file of its own, then linked into place: of processes starting
        # together on a new folder (serve and its worker, several serve), the first one's key
        # is everybody's. Each writing its own would leave each process with a different key,
        # and a session or a form of one refused by the others.
        draft = var_dir / f".secret_key.{os.getpid()}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            if existing:  # there was a key, too short to be used: replaced
                os.replace(draft, key_file)
            else:
                with contextlib.suppress(FileExistsError):  # another process was first: its key
                    os.link(draft, key_file)
        finally:
            draft.unlink(missing_ok=True)
        return key_file.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"Cannot keep a development secret key in {key_file} ({exc.strerror}). "
            "Set FABBOOKING_SECRET_KEY or make that folder writable."
        ) from None


def _mqtt_url() -> str | None:
    url = os.environ.get("FABBOOKING_MQTT_URL", "").strip()
    if not url:
        return None
    from fabbooking.usage.broker_url import broker_address

    try:
        broker_address(url)
    except ValueError:
        raise ConfigError(
            f"FABBOOKING_MQTT_URL={_hide_password(url)!r} is not understood. "
            "Use mqtt://user:password@host:1883 or mqtts://host:8883."
        ) from None
    return url


def public_url() -> str:
    """FABBOOKING_PUBLIC_URL, checked; cheap enough to read per request (no secret, no file)."""
    url = os.environ.get("FABBOOKING_PUBLIC_URL", "").strip().rstrip("/")
    if not url:
        return "http://127.0.0.1:8000"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"FABBOOKING_PUBLIC_URL={url!r} is not understood. Use the address people type, "
            "like https://fabbooking.example.org."
        )
    return url


def database_url() -> DatabaseUrl:
    """FABBOOKING_DATABASE_URL, or the development SQLite file under FABBOOKING_VAR_DIR."""
    raw_url = os.environ.get("FABBOOKING_DATABASE_URL")
    if raw_url is None or not raw_url.strip():
        var_dir = Path(os.environ.get("FABBOOKING_VAR_DIR", str(DEFAULT_VAR_DIR)))
        return DatabaseUrl(kind="sqlite", path=str(var_dir / "fabbooking.sqlite3"))
    return parse_database_url(raw_url)


def db_timeout_s() -> float:
    """FABBOOKING_DB_TIMEOUT_S: how long a request waits for the database (to connect, for a
    free connection, for one statement) before it is answered 503 « try again »."""
    raw = os.environ.get("FABBOOKING_DB_TIMEOUT_S", "").strip()
    if not raw:
        return DEFAULT_DB_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 300:
        raise ConfigError(
            f"FABBOOKING_DB_TIMEOUT_S={raw!r} is not understood. Give a number of seconds "
            f"between 0.5 and 300, like 5 (the default)."
        )
    return value


def db_pool_size() -> int:
    """FABBOOKING_DB_POOL_SIZE: PostgreSQL connections each web process keeps at most (its
    requests wait for a free one, up to FABBOOKING_DB_TIMEOUT_S). SQLite ignores it."""
    raw = os.environ.get("FABBOOKING_DB_POOL_SIZE", "").strip()
    if not raw:
        return DEFAULT_DB_POOL_SIZE
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise ConfigError(
            f"FABBOOKING_DB_POOL_SIZE={raw!r} is not understood. Give a whole number of connections "
            f"between 1 and 100, like {DEFAULT_DB_POOL_SIZE} (the default); with several web "
            "processes, keep their sum below PostgreSQL's max_connections."
        )
    return value


def media_dir() -> Path:
    """Where project photos and files are kept: FABBOOKING_MEDIA_DIR, or media/ under
    FABBOOKING_VAR_DIR. Created on first upload."""
    raw = os.environ.get("FABBOOKING_MEDIA_DIR", "").strip()
    if raw:
        return Path(raw)
    return Path(os.environ.get("FABBOOKING_VAR_DIR", str(DEFAULT_VAR_DIR))) / "media"


DEFAULT_JOB_TICK_S = 60.0


def job_tick_seconds() -> float:
    """FABBOOKING_JOB_TICK_SECONDS: how often the background jobs run (default 60)."""
    raw = os.environ.get("FABBOOKING_JOB_TICK_SECONDS", "").strip()
    if not raw:
        return DEFAULT_JOB_TICK_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 1 <= value <= 86400:
        raise ConfigError(
            f"FABBOOKING_JOB_TICK_SECONDS={raw!r} is not a number of seconds from 1 to 86400. "
            "Leave it unset for the default (60)."
        )
    return value


def load_settings() -> Settings:
    """Read and check every setting; raise ConfigError with a fix-it message."""
    var_dir = Path(os.environ.get("FABBOOKING_VAR_DIR", str(DEFAULT_VAR_DIR)))
    check_open_data_min_count()
    job_tick_seconds()
    db_timeout_s()
    db_pool_size()
    demo_live()
    page_cache_on()
    smtp_url()
    mail_from()
    return Settings(
        database=database_url(),
        secret_key=_secret_key(var_dir),
        mqtt_url=_mqtt_url(),
        var_dir=var_dir,
        public_url=public_url(),
        metrics_allow=metrics_allow(),
        log_format=log_format(),
    )


def metrics_allow() -> tuple[Network, ...]:
    """FABBOOKING_METRICS_ALLOW: the addresses and networks, besides this machine's own
    (loopback), that may read /metrics."""
    raw = os.environ.get("FABBOOKING_METRICS_ALLOW", "")
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"FABBOOKING_METRICS_ALLOW: {part[:60]!r} is not an address or a network. "
                "Write addresses and networks separated by commas, like 10.0.0.0/8,192.168.1.5 "
                "(or leave it unset: only this machine may read /metrics)."
            ) from None
    return tuple(networks)


def log_format() -> str:
    """FABBOOKING_LOG_FORMAT: ``text`` (one readable line per event) or ``json`` (one JSON
    object per line, for log shippers)."""
    raw = os.environ.get("FABBOOKING_LOG_FORMAT", "").strip().lower() or "text"
    if raw not in LOG_FORMATS:
        raise ConfigError(
            f"FABBOOKING_LOG_FORMAT={raw[:40]!r} is not understood. Use text (the default) "
            "or json (one JSON object per line, for log shippers)."
        )
    return raw


def check_open_data_min_count() -> None:
    """Stop at start on a wrong FABBOOKING_OPEN_DATA_MIN_COUNT; the figures read it when
    they publish (fabbooking.figures.suppression.min_count)."""
    from fabbooking.figures.suppression import min_count

    min_count()


def page_cache_on() -> bool:
    """FABBOOKING_PAGE_CACHE: ``on`` (unset) keeps the rendered pages until anything they
    show changes (fabbooking.web.page_cache); ``off`` renders every page anew."""
    value = os.environ.get("FABBOOKING_PAGE_CACHE", "").strip().lower() or "on"
    if value not in ("on", "off"):
        raise ConfigError(
            f"FABBOOKING_PAGE_CACHE={os.environ['FABBOOKING_PAGE_CACHE'][:40]!r} is not understood. Use on "
            "(the default: a page is rendered again only once something it shows has changed) or "
            "off (every page rendered anew)."
        )
    return value == "on"


DEMO_LIVE_CHOICES = ("on", "off", "auto")


def demo_live() -> str:
    """FABBOOKING_DEMO_LIVE: ``auto`` (unset: the simulated machines play when the database
    holds the demo and the broker is the embedded one), ``on`` or ``off`` to force it."""
    value = os.environ.get("FABBOOKING_DEMO_LIVE", "").strip().lower() or "auto"
    if value not in DEMO_LIVE_CHOICES:
        raise ConfigError(
            f"FABBOOKING_DEMO_LIVE={os.environ['FABBOOKING_DEMO_LIVE']!r} is not understood. Use on (play the "
            "demo's simulated machines), off (never), or leave it unset: they then play when "
            "'fabbooking serve' runs on the data of 'fabbooking demo' with its embedded broker."
        )
    return value


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool  # smtps://: TLS from the first byte; smtp://: STARTTLS when offered
    username: str | None = None
    password: str | None = None

    @property
    def label(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def parse_smtp_url(raw: str) -> SmtpServer:
    """``smtp://user:password@host:587`` (STARTTLS when the server offers it) or
    ``smtps://user:password@host:465`` (implicit TLS). The user and password may be left
    out, and are URL-decoded (write ``@`` as ``%40``)."""
    from urllib.parse import unquote

    url = raw.strip()
    parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("smtp", "smtps"):
        problem = "it must start with smtp:// or smtps://"
    elif not parts.hostname:
        problem = "it names no mail server"
    else:
        try:
            port = parts.port
        except ValueError:
            problem = "its port is not a number"
    if problem:
        raise ConfigError(
            f"FABBOOKING_SMTP_URL={_hide_password(url)[:120]!r} is not understood ({problem}). "
            "Write it like smtp://user:password@mail.example.org:587 (STARTTLS) or "
            "smtps://user:password@mail.example.org:465, or leave it unset: e-mails are then "
            "written to the log."
        )
    implicit = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname or "", port=port or (465 if implicit else 587), implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def smtp_url() -> SmtpServer | None:
    """FABBOOKING_SMTP_URL, checked; None (unset): e-mails are written to the log."""
    raw = os.environ.get("FABBOOKING_SMTP_URL", "").strip()
    return parse_smtp_url(raw) if raw else None


def mail_from() -> str:
    """FABBOOKING_MAIL_FROM: the sender of every e-mail, like
    ``Fabbooking <fabbooking@example.org>``; by default no-reply at the public address's host."""
    from email.headerregistry import Address
    from email.utils import parseaddr

    raw = os.environ.get("FABBOOKING_MAIL_FROM", "").strip()
    if not raw:
        host = urlsplit(public_url()).hostname or "localhost"
        return f"Fabbooking <no-reply@{host}>"
    name, address = parseaddr(raw)
    local, _, domain = address.partition("@")
    try:
        Address(display_name=name, username=local, domain=domain)
        ok = bool(local and "." in domain or domain == "localhost") and "\n" not in raw
    except (ValueError, IndexError):
        ok = False
    if not ok:
        raise ConfigError(
            f"FABBOOKING_MAIL_FROM={raw[:120]!r} is not an e-mail address. Write it like "
            "fabbooking@example.org or 'Fabbooking <fabbooking@example.org>'."
        )
    return raw
