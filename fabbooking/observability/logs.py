"""How every Fabbooking process writes its log: one line per event on stderr, readable text
or (``FABBOOKING_LOG_FORMAT=json``) one JSON object per line for log shippers. Each line
written while a request is being answered carries its request id.

Nothing here ever receives a password, a token, a cookie or a session id: the request line
names the route template (``/projects/{slug}``), never the path or the query, and no header.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the request being answered ("" outside a request).
request_id: ContextVar[str] = ContextVar("fabbooking_request_id", default="")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a request line adds to the record, as JSON fields
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
# Loggers kept quieter than the rest: aiosqlite's debug lines hold every statement's values
# (session ids among them); amqtt and its state machine speak of every packet.
QUIET_LOGGERS = {"aiosqlite": "INFO", "amqtt": "WARNING", "transitions": "WARNING"}


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request it was written for."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    request's fields and id when there are, and the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if getattr(record, "request_id", ""):
            entry["request_id"] = record.request_id  # type: ignore[attr-defined]  # RequestIdFilter
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", "")
        return f"{line} [request {rid}]" if rid else line


def logging_config(log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for every process (uvicorn's ``log_config`` too):
    everything through one handler on stderr, in the chosen format. uvicorn's own access
    log is off: it writes raw paths (a calendar feed's token is in its path), ours does not."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"()": TextFormatter},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                       "formatter": formatter, "filters": ["request_id"]},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            **{name: {"level": level} for name, level in QUIET_LOGGERS.items()},
        },
    }


def configure_logging(log_format: str) -> None:
    logging.config.dictConfig(logging_config(log_format))
