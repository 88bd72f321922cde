"""Every route handler of the workshops domain, for the app to mount: JSON API controllers
(under /api/v1) and page controllers (under /)."""

from __future__ import annotations

from fabbooking.workshops.controllers import WorkshopController
from fabbooking.workshops.pages import WorkshopPages
from fabbooking.workshops.series_api import WorkshopSeriesController
from fabbooking.workshops.series_pages import WorkshopSeriesPages

API_CONTROLLERS: list = [WorkshopController, WorkshopSeriesController]
PAGE_CONTROLLERS: list = [WorkshopPages, WorkshopSeriesPages]
