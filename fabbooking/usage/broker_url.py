"""MQTT broker addresses (``mqtt://user:password@host:1883``, ``mqtts://…:8883``). Pure, standard
library only: the server and the gateways in ``devices/`` (on a Raspberry Pi) both use it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def broker_address(url: str) -> BrokerAddress:
    """Parse a broker URL; ValueError says what is wrong with it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker URL {url!r} is not understood: write mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"broker URL {url!r} has a bad port") from None
    tls = parts.scheme == "mqtts"
    return BrokerAddress(parts.hostname, port or (8883 if tls else 1883),
                         unquote(parts.username) if parts.username else None,
                         unquote(parts.password) if parts.password else None, tls)
