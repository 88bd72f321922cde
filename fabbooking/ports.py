"""Whether a TCP port can be listened on, asked before starting a server on it."""

from __future__ import annotations

import socket


def port_problem(host: str, port: int) -> str | None:
    """None when ``host:port`` is free, else why it cannot be used (e.g. "Address already in use")."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
