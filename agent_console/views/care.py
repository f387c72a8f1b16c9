"""Care processes from a call: where each stands for the elder (beside the screen pop) and
starting one for the caller with one button and one confirmation.

The pop itself stays as fast as before: the browser asks for the care status in a request of its
own while it shows the profile. Reading it is audited as a view of the elder's care record;
starting a process is audited by the module that starts it.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Flask, jsonify, request
from pydantic import Field

from agent_console.security import current_actor, guard
from agent_console.views.common import (
    body,
    check_note,
    order_opening,
    require_elder_in_region,
    require_own_call,
    runtime,
)
from agent_console.views.schemas import Strict
from platform_core.accounts.permissions import Permission
from platform_core.audit import service as audit
from platform_core.flows import care_overview

bp = Blueprint("care", __name__)


class CareOptions(Strict):
    """Defaults a call implies that the agent may override (who applies, which meal point)."""

    applicant_name: str | None = Field(default=None, min_length=1, max_length=64)
    applicant_relation: str | None = Field(default=None, min_length=1, max_length=20)
    meal_point_id: int | None = Field(default=None, ge=1)
    mode: Literal["dine_in", "delivery"] | None = None
    note: str = Field(default="", max_length=100_000)


class CareStartIn(Strict):
    linkedid: str | None = Field(default=None, max_length=64)
    options: CareOptions = Field(default_factory=CareOptions)


@bp.get("/api/elders/<int:elder_id>/care")
@guard(Permission.VIEW_ELDER)
def status(elder_id: int) -> Any:
    """Each care process for the elder: its state, and whether (or why not) it can start now."""
    actor = current_actor()
    with runtime().session() as s:
        elder = require_elder_in_region(s, elder_id)
        overview = care_overview.care_status_for_elder(s, elder_id=elder.id)
        audit.record(
            s,
            actor=actor,
            action="elder.view_care_status",
            target_type="elder",
            target_id=elder_id,
            source_ip=request.remote_addr,
        )
        return jsonify(overview)


@bp.post("/api/elders/<int:elder_id>/care/<process>")
@guard(Permission.START_CARE)
def start(elder_id: int, process: str) -> Any:
    """Start ``process`` for the caller; the call's id is the process's source reference."""
    data = body(CareStartIn)
    check_note(data.options.note)
    options = data.options.model_dump(exclude_none=True, exclude_defaults=True)
    # a meal booked for delivery opens a service order
    with order_opening(), runtime().session() as s:
        elder = require_elder_in_region(s, elder_id)
        require_own_call(s, data.linkedid)
        started = care_overview.start_care_process(
            s,
            actor=current_actor(),
            elder_id=elder.id,
            process=process,
            source_ref=data.linkedid or None,
            options=options,
        )
        return jsonify(started), 201


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
