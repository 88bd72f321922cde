from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import JSONBody

from fabbooking.accounts.controllers import _qualification_out
from fabbooking.accounts.schemas import QualificationOut
from fabbooking.api.auth import CurrentViewer, require_login
from fabbooking.api.errors import error_responses
from fabbooking.api.moments import now
from fabbooking.training import services
from fabbooking.training.schemas import QualificationIn, TrainingIn, TrainingOut


def training_out(row: dict[str, Any]) -> TrainingOut:
    return TrainingOut(id=row["id"], slug=row["slug"], name=row["name"],
                       description=row["description"], unlocks_kinds=list(row["unlocks_kinds"] or []))


class TrainingController(Controller):
    path = "/trainings"
    tags = ["trainings"]

    @get("/")
    async def list_trainings(self) -> list[TrainingOut]:
        """Trainings of the network and the machine kinds each unlocks."""
        return [training_out(r) for r in await services.list_trainings()]

    @post("/", status_code=201, responses=error_responses(401, 403, 409, 422))
    async def create_training(self, data: JSONBody[TrainingIn], viewer: CurrentViewer) -> TrainingOut:
        """Create a training (animators and admins)."""
        row = await services.create_training(
            require_login(viewer), data.slug, data.name, data.description, list(data.unlocks_kinds)
        )
        return training_out(row)


class QualificationController(Controller):
    path = "/qualifications"
    tags = ["trainings"]

    @post("/", status_code=201, responses=error_responses(401, 403, 404, 422))
    async def grant(self, data: JSONBody[QualificationIn], viewer: CurrentViewer) -> QualificationOut:
        """Validate a training for a maker (animators and admins). Valid at every site."""
        row = await services.grant_qualification(
            require_login(viewer), data.maker_id, data.training_id, data.expires_on,
            today=now().date(), site_slug=data.site or "",
        )
        return _qualification_out(row)
