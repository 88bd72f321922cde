"""What refusals of the projects domain say, French first, English too (merged into
fabbooking.messages.MESSAGES; keys are the API's stable codes)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {}
