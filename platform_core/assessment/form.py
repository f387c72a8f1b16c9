"""The assessment form as the console shows it: the standard's items, options and grade bands
(from :mod:`platform_core.assessment.standard`, never copied), the grade a complete form gives,
who the form is about, and a recorded assessment's summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from platform_core.assessment import scoring, standard
from platform_core.assessment import service as assessments
from platform_core.assessment.models import Assessment
from platform_core.elders import service as elders


def form_layout() -> dict[str, Any]:
    """The standard as the form needs it: dimensions with their items and options, the grade
    bands and the reasons."""
    return {
        "standard": standard.STANDARD_CODE,
        "total_max": standard.TOTAL_MAX,
        "dimensions": [
            {
                "code": d.code,
                "name": d.name,
                "max": d.max_score,
                "items": [
                    {
                        "code": i.code,
                        "name": i.name,
                        "max": i.max_score,
                        "options": [
                            {"score": score, "text": text}
                            for score, text in sorted(i.options.items(), reverse=True)
                        ],
                    }
                    for i in d.items
                ],
            }
            for d in standard.DIMENSIONS
        ],
        "grades": [
            {"from": lowest, "level": int(grade), "label": grade.label}
            for lowest, grade in standard.GRADE_BANDS
        ],
        "reasons": dict(standard.REASONS),
        "risk_event_threshold": standard.RISK_EVENT_THRESHOLD,
    }


def score_form(
    *, items: dict[str, Any], coma: bool, diagnoses: str, risk_events: int
) -> dict[str, Any]:
    """Dimension totals, preliminary and final grade of a complete form, nothing recorded."""
    problems: list[scoring.Problem] = []
    facts = scoring.AdjustmentFacts(
        coma=coma,
        diagnoses=scoring.parse_diagnoses(diagnoses, problems),
        risk_events_30d=scoring.parse_risk_events(risk_events, None, problems),
    )
    if problems:
        raise scoring.InvalidAssessmentForm(problems)
    result: dict[str, Any] = scoring.score_items(items, facts).as_dict()
    return result


def assessment_summary(row: Assessment) -> dict[str, Any]:
    grade = standard.AbilityGrade(row.final_grade)
    return {
        "id": row.id,
        "standard": row.standard,
        "assessed_on": row.assessed_on.isoformat(),
        "reason": row.reason,
        "reason_label": standard.REASONS.get(row.reason, row.reason),
        "assessors": [row.assessor_1, row.assessor_2],
        "dimension_totals": row.dimension_totals,
        "total": row.total,
        "grade_label": row.legacy_grade_label or grade.label,
        "next_due_on": row.next_due_on.isoformat(),
        "is_current": row.is_current,
    }


def assessment_history(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    return [assessment_summary(r) for r in assessments.list_assessments(session, elder_id=elder_id)]


def elder_header(session: Session, *, elder_id: int) -> dict[str, Any]:
    """Who a form is about, masked as on the screen pop: name, masked ID number, age, region."""
    elder = elders.get_elder(session, elder_id=elder_id)
    return {
        "id": elder.id,
        "name": elder.name,
        "id_number_masked": elder.id_number_masked,
        "age": elders.age_of(elder, elders.today_in(session)),
        "region_name": elders.region_name(session, elder.region_code),
        "status": elder.status,
        "ability_grade": elder.ability_grade,
    }
