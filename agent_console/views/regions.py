"""The region picker of the console's forms (盟市 -> 旗县区 -> 苏木乡镇 -> 嘎查村, from the region
dictionary, within the user's region) and what an ID number says before a form is sent."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from pydantic import Field

from agent_console.security import current_actor, guard
from agent_console.views.common import body, runtime
from agent_console.views.schemas import Strict
from platform_core.accounts.permissions import Permission
from platform_core.elders import registration
from platform_core.regions import codes
from platform_core.regions import service as regions

bp = Blueprint("regions", __name__)


class IdNumberIn(Strict):
    id_number: str = Field(min_length=1, max_length=40)


@bp.get("/api/regions/picker")
@guard(Permission.REGISTER_ELDER)
def picker() -> Any:
    """The choices below ``parent`` (the autonomous region when none is given); a level above
    the user's region offers only the way down to it, and says so (``fixed``)."""
    actor = current_actor()
    settings = runtime().settings
    parent = codes.normalize_code(request.args.get("parent") or settings.home_region_code)
    with runtime().session() as s:
        rows = regions.picker_options(s, parent_code=parent, scope_code=actor.region_code)
        options = [{"code": r.code, "name": r.name} for r in rows]
    return jsonify(
        {
            "parent": parent,
            "level": codes.level_of(parent) + 1,
            "fixed": not codes.is_within(parent, actor.region_code),
            "options": options,
        }
    )


@bp.post("/api/elders/id-number")
@guard(Permission.REGISTER_ELDER)
def read_id_number() -> Any:
    """Birth date, age, sex and the registered county an ID number carries (GB 11643), for the
    registration form to fill in; nothing is stored or logged."""
    data = body(IdNumberIn)
    actor = current_actor()
    with runtime().session() as s:
        return jsonify(
            registration.read_id_number(s, id_number=data.id_number, scope_code=actor.region_code)
        )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
