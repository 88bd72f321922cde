"""Refusals raised by services; the web layer turns them into {code, detail} responses."""

from __future__ import annotations

import sqlite3

from fabbooking.bookings.rules import Refusal

STATUS_BY_CODE: dict[str, int] = {
    "not_authenticated": 401,
    "bad_credentials": 401,
    "forbidden": 403,
    "not_staff_of_site": 403,
    "on_behalf_needs_staff": 403,
    "not_qualified": 403,
    "qualification_expired": 403,
    "not_yours": 403,
    "not_found": 404,
    "overlap": 409,
    "too_close": 409,
    "already_cancelled": 409,
    "not_cancellable": 409,
    "username_taken": 409,
    "username_look_alike": 409,
    "email_taken": 409,
    "slug_taken": 409,
    "too_many_attempts": 429,
    "too_many_signups": 429,
    "too_many_reset_requests": 429,
    "wrong_password": 403,
    "last_admin_cannot_leave": 409,
    "cross_site": 403,
    "json_only": 415,
}


class Refused(Exception):
    """A request a service will not carry out. Nothing was written."""

    def __init__(self, code: str, status: int | None = None, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.status = status or STATUS_BY_CODE.get(code, 422)
        self.params = params

    @classmethod
    def because(cls, refusal: Refusal) -> Refused:
        return cls(refusal.code, **refusal.params)

    @classmethod
    def not_found(cls, what_fr: str, what_en: str) -> Refused:
        return cls("not_found", what_fr=what_fr, what_en=what_en)


def is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"


def is_overlap_violation(exc: BaseException) -> bool:
    """The database refused a second booking of the same time (PG exclusion, SQLite trigger)."""
    if type(exc).__name__ == "ExclusionViolationError":
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "booking_no_overlap" in str(exc)


class CommandFailed(Exception):
    """A command-line step could not do its job; the message says why and what to do."""


class CommandRefused(CommandFailed):
    """A command was given something it cannot use (a path, a file, a setting); nothing
    was changed. The command exits 2; the message says what to give it instead."""
