"""Assessment use cases: record a GB/T 42195-2022 assessment or a legacy one, keep the elder's
ability grade current, list who is due for re-assessment and remind them."""

from __future__ import annotations

import calendar
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.assessment import requests
from platform_core.assessment.events import AssessmentRecorded, ReassessmentDue
from platform_core.assessment.legacy import (
    LEGACY_GRADES,
    LEGACY_STANDARD,
    TO_CURRENT,
    parse_legacy_grade,
)
from platform_core.assessment.models import Assessment
from platform_core.assessment.policy import assessment_policy
from platform_core.assessment.scoring import (
    AdjustmentFacts,
    InvalidAssessmentForm,
    Problem,
    ScoreResult,
    parse_diagnoses,
    parse_risk_events,
    score_items,
)
from platform_core.assessment.standard import (
    GRADE_ENGLISH,
    REASONS,
    STANDARD_CODE,
    AbilityGrade,
    parse_reason,
)
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions.service import require_within, within
from platform_core.runtime import cipher_of


class AssessmentNotFound(NotFound):
    code = "assessment_not_found"


class ElderNotFound(NotFound):
    code = "elder_not_found"


class ElderNotActive(Conflict):
    code = "elder_not_active"


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def grade_key(grade: AbilityGrade | int) -> str:
    """How the elder profile stores a grade (``moderate``); labels come from ``GRADE_LABELS``."""
    return GRADE_ENGLISH[AbilityGrade(grade)]


def get_elder(session: Session, elder_id: int) -> Elder:
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFound(f"老年人档案不存在: {elder_id} / no such elder")
    return elder


def _active_elder_in_scope(session: Session, actor: Actor, elder_id: int) -> Elder:
    elder = get_elder(session, elder_id)
    require_within(elder.region_code, actor.region_code)
    if elder.status != "active":
        raise ElderNotActive(f"老年人档案状态为 {elder.status}, 不能评估 / elder is not active")
    return elder


def _names(names: Sequence[str]) -> str:
    """Names as a reader writes them (王评估、李评估), never a Python list."""
    return "、".join(names) if names else "(未填写)"


def _check_assessors(assessors: Sequence[str]) -> tuple[str, str]:
    names = [str(a).strip() for a in assessors if str(a).strip()]
    if len(names) != 2 or names[0].casefold() == names[1].casefold():
        raise InvalidAssessmentForm(
            [
                Problem(
                    "assessors",
                    "two_distinct_assessors",
                    f"评估须由两名不同的评估员完成, 填写的是 {_names(names)} / two distinct "
                    "assessors required",
                )
            ]
        )
    return names[0], names[1]


def _check_reason(reason: str) -> str:
    key = parse_reason(reason)
    if key is None:
        raise InvalidAssessmentForm(
            [
                Problem(
                    "reason",
                    "unknown_reason",
                    f"评估原因 {reason!r} 应为 {'/'.join(REASONS.values())} / unknown reason",
                )
            ]
        )
    return key


def _supersede(session: Session, elder: Elder, new: Assessment) -> str | None:
    previous = current_assessment(session, elder_id=elder.id)
    if previous is not None and previous.assessed_on > new.assessed_on:
        raise Conflict(
            f"已有 {previous.assessed_on} 的更新评估, 不能登记更早日期 {new.assessed_on} 的评估为当前评估 / "
            "a later assessment already exists",
            code="assessment_out_of_date",
        )
    for row in session.scalars(
        select(Assessment).where(Assessment.elder_id == elder.id, Assessment.is_current)
    ):
        row.is_current = False
    return elder.ability_grade


def _update_profile(elder: Elder, grade: AbilityGrade, assessed_on: date) -> None:
    elder.ability_grade = grade_key(grade)
    elder.ability_assessed_on = assessed_on


def _seal(session: Session, detail: Mapping[str, Any]) -> str:
    return cipher_of(session).seal(json.dumps(detail, ensure_ascii=False, sort_keys=True))


def record_assessment(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    item_scores: Mapping[str, Any],
    assessed_on: date,
    reason: str,
    assessors: Sequence[str],
    coma: bool = False,
    diagnoses: Sequence[str] | str = (),
    risk_events: int | list[dict[str, Any]] = 0,
    agency: str = "",
    disputed_assessment_id: int | None = None,
) -> Assessment:
    """Score and record a GB/T 42195-2022 assessment; the elder's ability grade follows it.

    Any problem (an item missing or out of range, one assessor, an unknown reason) refuses the
    whole assessment and nothing is written.
    """
    elder = _active_elder_in_scope(session, actor, elder_id)
    problems: list[Problem] = []
    facts = AdjustmentFacts(
        coma=coma,
        diagnoses=parse_diagnoses(
            list(diagnoses) if not isinstance(diagnoses, str) else diagnoses, problems
        ),
        risk_events_30d=parse_risk_events(risk_events, assessed_on, problems),
    )
    if problems:
        raise InvalidAssessmentForm(problems)
    first, second = _check_assessors(assessors)
    reason_key = _check_reason(reason)
    if assessed_on > clock.today_in(session):
        raise ValidationFailed(
            f"评估日期 {assessed_on} 不能晚于今天 / assessment date in the future",
            code="assessment_in_future",
        )
    if reason_key == "dispute":
        disputed = (
            get_assessment(session, assessment_id=disputed_assessment_id or 0)
            if disputed_assessment_id
            else None
        )
        if disputed is None or disputed.elder_id != elder.id:
            raise ValidationFailed(
                "复评须指明被质疑的同一老人的评估 / a dispute review names the disputed assessment",
                code="dispute_needs_assessment",
            )
    result: ScoreResult = score_items(item_scores, facts)
    policy = assessment_policy(session, region_code=elder.region_code)
    row = Assessment(
        elder_id=elder.id,
        region_code=elder.region_code,
        standard=STANDARD_CODE,
        reason=reason_key,
        assessed_on=assessed_on,
        assessor_1=first,
        assessor_2=second,
        agency=agency,
        dimension_totals=result.dimension_totals,
        total=result.total,
        preliminary_grade=int(result.preliminary_grade),
        final_grade=int(result.final_grade),
        detail_sealed=_seal(
            session,
            {
                "item_scores": result.item_scores,
                "coma": facts.coma,
                "diagnoses": list(facts.diagnoses),
                "risk_events_30d": facts.risk_events_30d,
                "adjustments": [a.as_dict() for a in result.adjustments],
            },
        ),
        disputed_assessment_id=disputed_assessment_id if reason_key == "dispute" else None,
        next_due_on=add_months(assessed_on, policy.interval_months),
        recorded_by=actor.name,
    )
    previous = _supersede(session, elder, row)
    session.add(row)
    _update_profile(elder, result.final_grade, assessed_on)
    session.flush()
    requests.fulfil_requests(session, actor=actor, assessment=row)
    audit.record(
        session,
        actor=actor,
        action="assessment.record",
        target_type="elder",
        target_id=elder.id,
        detail={"assessment_id": row.id, "final_grade": grade_key(result.final_grade)},
    )
    publish_on_commit(
        session,
        AssessmentRecorded(
            row.id, elder.id, elder.region_code, grade_key(result.final_grade), previous
        ),
    )
    return row


def import_legacy_assessment(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    assessed_on: date,
    grade: str | int,
    assessors: Sequence[str],
    dimension_grades: Mapping[str, int] | None = None,
    agency: str = "",
    source: str = "",
) -> Assessment:
    """Keep an MZ/T 039-2013 record readable: its own grade label, mapped by name for
    eligibility (see ``legacy``), due again after the legacy interval."""
    elder = _active_elder_in_scope(session, actor, elder_id)
    level = parse_legacy_grade(grade)
    if level is None:
        raise ValidationFailed(
            f"旧标准等级 {grade!r} 应为 0-3 或 {'/'.join(LEGACY_GRADES.values())} / "
            "unknown MZ/T 039-2013 grade",
            code="invalid_legacy_grade",
        )
    for name, value in (dimension_grades or {}).items():
        if not (isinstance(value, int) and 0 <= value <= 3):
            raise ValidationFailed(
                f"旧标准维度 {name} 的等级 {value!r} 应为 0-3 / dimension grade must be 0-3",
                code="invalid_legacy_grade",
            )
    first, second = _check_assessors(assessors)
    policy = assessment_policy(session, region_code=elder.region_code)
    mapped = TO_CURRENT[level]
    row = Assessment(
        elder_id=elder.id,
        region_code=elder.region_code,
        standard=LEGACY_STANDARD,
        reason="other",
        assessed_on=assessed_on,
        assessor_1=first,
        assessor_2=second,
        agency=agency,
        dimension_totals=None,
        total=None,
        preliminary_grade=None,
        final_grade=int(mapped),
        legacy_grade_label=LEGACY_GRADES[level],
        detail_sealed=_seal(
            session, {"legacy_dimensions": dict(dimension_grades or {}), "source": source}
        ),
        next_due_on=add_months(assessed_on, policy.legacy_interval_months),
        recorded_by=actor.name,
    )
    previous = current_assessment(session, elder_id=elder.id)
    if previous is not None and previous.assessed_on >= assessed_on:
        row.is_current = False  # an old paper record arriving late does not replace a newer one
        session.add(row)
    else:
        prev_grade = _supersede(session, elder, row)
        session.add(row)
        _update_profile(elder, mapped, assessed_on)
        session.flush()
        publish_on_commit(
            session,
            AssessmentRecorded(
                row.id, elder.id, elder.region_code, grade_key(mapped), prev_grade, legacy=True
            ),
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="assessment.import_legacy",
        target_type="elder",
        target_id=elder.id,
        detail={"assessment_id": row.id, "legacy_grade": LEGACY_GRADES[level], "source": source},
    )
    return row


# ---------------------------------------------------------------- queries


def get_assessment(session: Session, *, assessment_id: int) -> Assessment:
    row = session.get(Assessment, assessment_id)
    if row is None:
        raise AssessmentNotFound(f"评估记录不存在: {assessment_id} / no such assessment")
    return row


def current_assessment(session: Session, *, elder_id: int) -> Assessment | None:
    return session.scalar(
        select(Assessment).where(Assessment.elder_id == elder_id, Assessment.is_current)
    )


def list_assessments(session: Session, *, elder_id: int) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment)
            .where(Assessment.elder_id == elder_id)
            .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        )
    )


def current_grade(
    session: Session, *, elder_id: int, on: date | None = None
) -> AbilityGrade | None:
    """The grade eligibility rules may rely on: the current assessment's, while it is not overdue."""
    row = current_assessment(session, elder_id=elder_id)
    if row is None or row.next_due_on < (on or clock.today_in(session)):
        return None
    return AbilityGrade(row.final_grade)


@dataclass(frozen=True)
class AssessmentDetail:
    assessment: Assessment
    item_scores: dict[str, int]
    coma: bool
    diagnoses: list[str]
    risk_events_30d: int
    adjustments: list[dict[str, Any]]
    legacy_dimensions: dict[str, int]


def view_assessment(
    session: Session, *, actor: Actor, assessment_id: int, purpose: str = "view"
) -> AssessmentDetail:
    """Open the sealed health detail for a permitted user; every view is audited."""
    row = get_assessment(session, assessment_id=assessment_id)
    require_within(row.region_code, actor.region_code)
    detail = json.loads(cipher_of(session).open(row.detail_sealed))
    audit.record(
        session,
        actor=actor,
        action=f"assessment.{purpose}",
        target_type="elder",
        target_id=row.elder_id,
        detail={"assessment_id": row.id},
    )
    return AssessmentDetail(
        row,
        detail.get("item_scores", {}),
        bool(detail.get("coma")),
        detail.get("diagnoses", []),
        int(detail.get("risk_events_30d", 0)),
        detail.get("adjustments", []),
        detail.get("legacy_dimensions", {}),
    )


@dataclass(frozen=True)
class DueReassessment:
    assessment_id: int
    elder_id: int
    region_code: str
    assessed_on: date
    due_on: date
    standard: str
    overdue: bool


def list_due_reassessments(
    session: Session, *, region_code: str, on: date, lead_days: int | None = None
) -> list[DueReassessment]:
    """Elders of a region whose current assessment falls due within the lead time (or is overdue).

    ``lead_days`` None uses each 盟市's configured reminder lead.
    """
    widest = lead_days if lead_days is not None else 366
    rows = session.scalars(
        select(Assessment)
        .join(Elder, Elder.id == Assessment.elder_id)
        .where(
            Assessment.is_current,
            Elder.status == "active",
            within(Assessment.region_code, region_code),
            Assessment.next_due_on <= on + timedelta(days=widest),
        )
        .order_by(Assessment.next_due_on, Assessment.id)
    )
    out = []
    leads: dict[str, int] = {}
    for row in rows:
        if lead_days is None:
            league = row.region_code[:4]
            if league not in leads:
                leads[league] = assessment_policy(
                    session, region_code=row.region_code
                ).reminder_lead_days
            if row.next_due_on > on + timedelta(days=leads[league]):
                continue
        out.append(
            DueReassessment(
                row.id,
                row.elder_id,
                row.region_code,
                row.assessed_on,
                row.next_due_on,
                row.standard,
                row.next_due_on < on,
            )
        )
    return out


def send_reassessment_reminders(session: Session, *, region_code: str, on: date) -> int:
    """Publish one ReassessmentDue per due assessment not yet reminded; safe to run again."""
    sent = 0
    for due in list_due_reassessments(session, region_code=region_code, on=on):
        row = session.get(Assessment, due.assessment_id)
        if row is None or row.reminded_on is not None:
            continue
        row.reminded_on = on
        publish_on_commit(
            session, ReassessmentDue(row.id, row.elder_id, row.region_code, row.next_due_on)
        )
        sent += 1
    session.flush()
    return sent


def has_status(elder_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the elder has what the assessment's status shows (a current assessment or an
    open request): one EXISTS, for the care status to ask every programme in one statement."""
    return or_(
        exists().where(Assessment.elder_id == elder_id, Assessment.is_current),
        requests.open_request_exists(elder_id),
    )


def status_for_elder(
    session: Session, *, elder_id: int, on: date | None = None, has_any: bool = True
) -> dict[str, Any]:
    """Where the elder's assessment stands, for the screen pop (no health detail); ``has_any``
    False (from :func:`has_status`) answers "none" without reading."""
    row = current_assessment(session, elder_id=elder_id) if has_any else None
    pending = requests.find_open_request(session, elder_id=elder_id) if has_any else None
    asked: dict[str, Any] = (
        {
            "state": "requested",
            "state_label": requests.STATUS_LABELS["requested"],
            "request": requests.request_summary(pending),
        }
        if pending is not None
        else {}
    )
    if row is None:
        return {
            "module": "assessment",
            "label": "能力评估",
            "state": "none",
            "state_label": "未评估",
            **asked,
        }
    today = on or clock.today_in(session)
    grade = AbilityGrade(row.final_grade)
    overdue = row.next_due_on < today
    return {
        "module": "assessment",
        "label": "能力评估",
        "assessment_id": row.id,
        "state": "overdue" if overdue else "current",
        "state_label": "需复评 (已逾期)" if overdue else "有效",
        "grade": grade_key(grade),
        "grade_label": row.legacy_grade_label or grade.label,
        "standard": row.standard,
        "legacy": row.is_legacy,
        "total": row.total,
        "assessed_on": row.assessed_on.isoformat(),
        "next_due_on": row.next_due_on.isoformat(),
        **asked,
    }
