"""Every route handler of the figures domain, for the app to mount: JSON API controllers
(under /api/v1) and page controllers (under /)."""

from __future__ import annotations

from fabbooking.figures.api import FiguresController
from fabbooking.figures.pages import FiguresPages

API_CONTROLLERS: list = [FiguresController]
PAGE_CONTROLLERS: list = [FiguresPages]
