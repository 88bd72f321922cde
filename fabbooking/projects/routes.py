"""Every route handler of the projects domain, for the app to mount: JSON API controllers
(under /api/v1) and page controllers (under /)."""

from __future__ import annotations

from fabbooking.projects.controllers import ProjectController
from fabbooking.projects.pages import ProjectPages
from fabbooking.projects.serving import MediaPages

API_CONTROLLERS: list = [ProjectController]
PAGE_CONTROLLERS: list = [ProjectPages, MediaPages]
