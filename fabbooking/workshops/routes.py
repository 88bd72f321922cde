"""Every route handler of the workshops domain, for the app to mount: JSON API controllers
(under /api/v1) and page controllers (under /)."""

from __future__ import annotations

from fabbooking.workshops.controllers import WorkshopController
from fabbooking.workshops.pages import WorkshopPages

API_CONTROLLERS: list = [WorkshopController]
PAGE_CONTROLLERS: list = [WorkshopPages]
