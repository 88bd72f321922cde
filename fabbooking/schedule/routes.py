"""Every route handler of the schedule domain, for the app to mount (pages only: the JSON
API already has /sites/{slug}/availability)."""

from __future__ import annotations

from fabbooking.schedule.pages import SchedulePages

PAGE_CONTROLLERS: list = [SchedulePages]
