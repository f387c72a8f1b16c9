"""The GB/T 42195-2022 assessment form in the console and its printable report.

The form lists the standard's 26 items with their options (taken from the assessment module's
item table, never copied here). Dimension totals add up in the browser as items are chosen; the
grade, with the standard's adjustments, comes from the module's own scoring once every item has
a score, and again when the form is saved. Saving needs two distinct assessors and a reason; the
module refuses anything else naming the rule. Opening the form is audited as a view of the
elder, printing the report as an export of health data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from pydantic import Field

from agent_console.security import current_actor, guard, require_region
from agent_console.views.common import body, require_elder_in_region, runtime
from agent_console.views.schemas import Strict
from platform_core import clock
from platform_core.accounts.permissions import Permission
from platform_core.assessment import form as assessment_form
from platform_core.assessment import report as assessment_report
from platform_core.assessment import service as assessments
from platform_core.audit import service as audit

bp = Blueprint("assessment", __name__)


class ScoreIn(Strict):
    items: dict[str, int] = Field(max_length=40)
    coma: bool = False
    diagnoses: str = Field(default="", max_length=200)
    risk_events: int = Field(default=0, ge=0, le=99)


class AssessmentIn(ScoreIn):
    assessed_on: date
    reason: str = Field(min_length=1, max_length=20)
    assessors: list[str] = Field(min_length=2, max_length=2)
    agency: str = Field(default="", max_length=100)
    disputed_assessment_id: int | None = Field(default=None, ge=1)


@bp.get("/elders/<int:elder_id>/assessment")
@guard(Permission.RECORD_ASSESSMENT)
def form(elder_id: int) -> Any:
    actor = current_actor()
    with runtime().session() as s:
        require_elder_in_region(s, elder_id)
        elder = assessment_form.elder_header(s, elder_id=elder_id)
        history = assessment_form.assessment_history(s, elder_id=elder_id)
        audit.record(
            s,
            actor=actor,
            action="assessment.open_form",
            target_type="elder",
            target_id=elder_id,
            source_ip=request.remote_addr,
        )
    today = clock.today(runtime().settings.timezone)
    return render_template(
        "assessment/form.html",
        elder=elder,
        history=history,
        standard=assessment_form.form_layout(),
        today=today.isoformat(),
    )


@bp.post("/api/assessments/score")
@guard(Permission.RECORD_ASSESSMENT)
def score() -> Any:
    """The grade a complete form gives, without recording anything (no elder is named)."""
    data = body(ScoreIn)
    return jsonify(
        assessment_form.score_form(
            items=data.items,
            coma=data.coma,
            diagnoses=data.diagnoses,
            risk_events=data.risk_events,
        )
    )


@bp.post("/api/elders/<int:elder_id>/assessments")
@guard(Permission.RECORD_ASSESSMENT)
def record(elder_id: int) -> Any:
    data = body(AssessmentIn)
    with runtime().session() as s:
        require_elder_in_region(s, elder_id)
        row = assessments.record_assessment(
            s,
            actor=current_actor(),
            elder_id=elder_id,
            item_scores=data.items,
            assessed_on=data.assessed_on,
            reason=data.reason,
            assessors=data.assessors,
            coma=data.coma,
            diagnoses=data.diagnoses,
            risk_events=data.risk_events,
            agency=data.agency,
            disputed_assessment_id=data.disputed_assessment_id,
        )
        out = assessment_form.assessment_summary(row)
    out["report_url"] = f"/assessments/{out['id']}.pdf"
    return jsonify({"assessment": out}), 201


@bp.get("/assessments/<int:assessment_id>.pdf")
@guard(Permission.RECORD_ASSESSMENT)
def report(assessment_id: int) -> Any:
    with runtime().session() as s:
        require_region(
            assessments.get_assessment(s, assessment_id=assessment_id).region_code,
            target_type="assessment",
            target_id=assessment_id,
        )
        pdf = assessment_report.render_report(s, actor=current_actor(), assessment_id=assessment_id)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="assessment-{assessment_id}.pdf"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
