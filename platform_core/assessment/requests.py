"""Requests for an assessment: an agent asks for assessors to visit an elder (usually from a
call after a fall or a change in condition); the request stays open, and shows on the screen
pop, until an assessment of the elder is recorded or the request is cancelled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.assessment.events import AssessmentRequestClosed, AssessmentRequested
from platform_core.assessment.models import Assessment, AssessmentRequest
from platform_core.assessment.standard import REASONS, parse_reason
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions.service import require_within

SOURCES = {"call": "来电", "referral": "转介", "counter": "窗口"}
STATUS_LABELS = {"requested": "已申请, 待上门评估", "done": "已评估", "cancelled": "已取消"}


class AssessmentRequestOpen(Conflict):
    code = "assessment_request_open"


def open_request_exists(elder_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    return exists().where(
        AssessmentRequest.elder_id == elder_id, AssessmentRequest.status == "requested"
    )


def find_open_request(session: Session, *, elder_id: int) -> AssessmentRequest | None:
    return session.scalar(
        select(AssessmentRequest).where(
            AssessmentRequest.elder_id == elder_id, AssessmentRequest.status == "requested"
        )
    )


def request_assessment(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    reason: str | None = None,
    source: str = "call",
    source_ref: str | None = None,
    note: str = "",
) -> AssessmentRequest:
    """Ask for an assessment of the elder. Without ``reason``: 首次评估 for an elder never
    assessed, otherwise 即时评估 (someone calls because the elder's condition changed)."""
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"老年人档案不存在: {elder_id} / no such elder", code="elder_not_found")
    require_within(elder.region_code, actor.region_code)
    if elder.status != ElderStatus.ACTIVE:
        raise Conflict(
            f"老年人档案状态为 {elder.status}, 不能申请评估 / elder is not active",
            code="elder_not_active",
        )
    if source not in SOURCES:
        raise ValidationFailed(
            f"申请来源 {source!r} 应为 {'/'.join(SOURCES)} / unknown source",
            code="unknown_request_source",
        )
    if reason is None:
        assessed = session.scalar(select(Assessment.id).where(Assessment.elder_id == elder.id))
        key: str | None = "immediate" if assessed is not None else "first"
    else:
        key = parse_reason(reason)
    if key is None or key == "dispute":
        # a dispute review names the disputed assessment: it is recorded, not requested
        raise ValidationFailed(
            f"评估原因 {reason!r} 应为 首次/常规/即时/其他 / unknown reason",
            code="unknown_reason",
        )
    existing = find_open_request(session, elder_id=elder.id)
    if existing is not None:
        raise AssessmentRequestOpen(
            f"该老人已有待上门的评估申请 (编号 {existing.id}, {existing.requested_by} "
            f"{existing.requested_at:%m-%d} 申请) / an assessment request is already open",
            request_id=existing.id,
        )
    row = AssessmentRequest(
        elder_id=elder.id,
        region_code=elder.region_code,
        reason=key,
        status="requested",
        source=source,
        source_ref=source_ref,
        note=note.strip(),
        requested_by=actor.name,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:  # a concurrent request for the same elder won
        raise AssessmentRequestOpen(
            "该老人已有待上门的评估申请 / an assessment request is already open"
        ) from exc
    audit.record(
        session,
        actor=actor,
        action="assessment.request",
        target_type="elder",
        target_id=elder.id,
        detail={"request_id": row.id, "reason": key, "source": source},
    )
    publish_on_commit(
        session, AssessmentRequested(row.id, elder.id, elder.region_code, key, source)
    )
    return row


def cancel_request(
    session: Session, *, actor: Actor, request_id: int, reason: str
) -> AssessmentRequest:
    row = session.get(AssessmentRequest, request_id)
    if row is None:
        raise NotFound(
            f"评估申请不存在: {request_id} / no such request", code="assessment_request_not_found"
        )
    require_within(row.region_code, actor.region_code)
    if row.status != "requested":
        raise IllegalTransition(
            f"评估申请当前为「{STATUS_LABELS[row.status]}」, 不能取消 / the request is closed",
            status=row.status,
        )
    if not reason.strip():
        raise ValidationFailed("请说明取消原因 / a reason is required", code="reason_required")
    row.status, row.cancel_reason = "cancelled", reason.strip()
    row.closed_at, row.closed_by = utcnow(), actor.name
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="assessment.cancel_request",
        target_type="elder",
        target_id=row.elder_id,
        detail={"request_id": row.id},
    )
    publish_on_commit(
        session, AssessmentRequestClosed(row.id, row.elder_id, row.region_code, "cancelled", None)
    )
    return row


def fulfil_requests(session: Session, *, actor: Actor, assessment: Assessment) -> list[int]:
    """An assessment recorded for the elder answers their open request."""
    done: list[int] = []
    for row in session.scalars(
        select(AssessmentRequest).where(
            AssessmentRequest.elder_id == assessment.elder_id,
            AssessmentRequest.status == "requested",
        )
    ):
        row.status, row.assessment_id = "done", assessment.id
        row.closed_at, row.closed_by = utcnow(), actor.name
        done.append(row.id)
        publish_on_commit(
            session,
            AssessmentRequestClosed(row.id, row.elder_id, row.region_code, "done", assessment.id),
        )
    session.flush()
    return done


def request_summary(row: AssessmentRequest) -> dict[str, Any]:
    return {
        "request_id": row.id,
        "status": row.status,
        "status_label": STATUS_LABELS[row.status],
        "reason": row.reason,
        "reason_label": REASONS[row.reason],
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat(),
    }
