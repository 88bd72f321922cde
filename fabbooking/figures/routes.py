"""Every route handler of the figures domain, for the app to mount: JSON API controllers
(under /api/v1) and page controllers (under /)."""

from __future__ import annotations

API_CONTROLLERS: list = []
PAGE_CONTROLLERS: list = []
