"""Who is asking: the account behind a request, its role and the sites it works at."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Viewer:
    account_id: int | None = None
    username: str = ""
    role: str = "anonymous"
    language: str | None = None
    staff_site_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_authenticated(self) -> bool:
        return self.account_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_animator(self) -> bool:
        return self.role == "animator"

    def is_staff_of(self, site_id: int) -> bool:
        """Admins run the whole network; animators run the sites they work at."""
        return self.is_admin or (self.is_animator and site_id in self.staff_site_ids)

    @property
    def is_staff_anywhere(self) -> bool:
        return self.is_admin or (self.is_animator and bool(self.staff_site_ids))


ANONYMOUS = Viewer()
