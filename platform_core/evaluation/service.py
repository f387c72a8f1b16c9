"""Provider evaluation (服务商评估), monthly and on demand.

The measures of a period: services completed, arrivals on time, time spent at the home, the
elders' ratings and return-visit satisfaction, complaints, orders declined or let lapse, SLA
breaches, and credit events. They become a score (0-100, weights per ``evaluation_weights``),
the score a grade (``evaluation_grade_floors``), the grade a status (``evaluation_grade_status``;
below ``evaluation_suspend_below`` suspended), and dispatch obeys grade, credit and status. A
provider with fewer than ``evaluation_min_orders`` services in the period is evaluated but not
moved; a suspension an officer imposed by hand is not lifted by an evaluation, nor a
termination.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import NotFound, PermissionDenied, ValidationFailed
from platform_core.evaluation.models import CreditEvent, ProviderEvaluation
from platform_core.orders.models import (
    OrderComplaint,
    OrderTransition,
    ReturnVisit,
    ServiceOrder,
)
from platform_core.orders.periods import month_bounds
from platform_core.providers import service as providers
from platform_core.providers.access import require_office
from platform_core.providers.models import Provider, ProviderStatus
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.settings import Settings, SettingsError, parse_pairs
from platform_core.sla.models import SlaBreach

MANAGERS = frozenset({Role.ADMIN, Role.OFFICER})
# Status changes made by an evaluation carry this in their reason, so a later evaluation knows
# which suspensions it may lift.
REASON_PREFIX = "服务商评估"
# Credit score: a provider starts at the base and moves with the credit points of the last year.
CREDIT_BASE = 80.0
CREDIT_WINDOW = timedelta(days=365)
# A measure with nothing to measure counts as this share (neither rewarded nor punished).
NEUTRAL = 0.8
# A complaint rate of this much (or more) leaves no complaint points.
COMPLAINT_RATE_ZERO = 0.2

METRIC_LABELS = {
    "service_count": "完成服务单数",
    "dispatched": "派单数",
    "on_time_rate": "按时到场率",
    "avg_duration_min": "平均服务时长 (分钟)",
    "avg_rating": "老人评分均值 (1-5)",
    "avg_visit_satisfaction": "回访满意度均值 (1-5)",
    "dissatisfied": "回访不满意",
    "complaints": "投诉",
    "complaint_rate": "投诉率",
    "declined": "拒单",
    "timed_out": "超时未接单",
    "sla_breaches": "超时 (响应/到场)",
    "credit_points": "本期诚信分变动",
    "credit_score": "诚信分",
}
PART_LABELS = {"on_time": "按时", "satisfaction": "满意度", "complaints": "投诉", "credit": "诚信"}


class EvaluationNotFound(NotFound):
    code = "evaluation_not_found"


@dataclass(frozen=True)
class Metrics:
    service_count: int
    dispatched: int
    on_time_due: int
    on_time: int
    on_time_rate: float | None
    avg_duration_min: float | None
    ratings: int
    avg_rating: float | None
    visits: int
    avg_visit_satisfaction: float | None
    dissatisfied: int
    satisfaction: float | None  # 0..1
    complaints: int
    complaint_rate: float
    declined: int
    timed_out: int
    sla_breaches: int
    credit_points: float
    credit_score: float


def _numbers(raw: str, variable: str) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in parse_pairs(raw, variable=variable).items()}
    except ValueError as exc:
        raise SettingsError(f"HOTLINE_{variable.upper()}: {exc}") from exc


def _require_manager(
    session: Session, actor: Actor, provider: Provider | None, action: str
) -> None:
    require_office(
        session,
        actor,
        roles=MANAGERS,
        action=action,
        refused="只有民政监管或管理员可以评估服务商 / only officers and administrators",
        provider=provider,
        out_of_region="无权评估其他地区的服务商 / outside your region",
    )


# ---------------------------------------------------------------- credit events


def record_credit_event(
    session: Session,
    *,
    actor: Actor,
    provider_id: int,
    kind: str,
    points: float,
    reason: str,
    order_id: int | None = None,
    at: datetime | None = None,
) -> CreditEvent:
    """A commendation (points > 0) or violation (points < 0) on the provider's record; audited."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require_manager(session, actor, provider, "evaluation.credit_event")
    if not (reason or "").strip():
        raise ValidationFailed(
            "诚信记录必须说明原因 / a credit event needs a reason", code="reason_required"
        )
    if not -100 <= points <= 100 or points == 0:
        raise ValidationFailed(
            "分值应在 -100 到 100 之间且不为 0 / points from -100 to 100", code="invalid_points"
        )
    row = CreditEvent(
        provider_id=provider.id,
        at=at or utcnow(),
        kind=kind.strip()[:30] or "other",
        points=points,
        reason=reason.strip(),
        order_id=order_id,
        recorded_by=actor.label,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="evaluation.credit_event",
        target_type="provider",
        target_id=provider.id,
        detail={"kind": row.kind, "points": points, "reason": row.reason, "order_id": order_id},
    )
    return row


# What a credit event records (the page offers these; points are the officer's to give).
CREDIT_KINDS = {
    "commendation": "表扬奖励",
    "service_violation": "服务违规",
    "complaint_upheld": "有效投诉",
    "late_arrival": "超时未到",
    "false_report": "虚报服务",
    "privacy_breach": "泄露个人信息",
    "other": "其他",
}


def list_credit_events(session: Session, *, provider_id: int) -> list[CreditEvent]:
    """The provider's credit record, newest first."""
    return list(
        session.scalars(
            select(CreditEvent)
            .where(CreditEvent.provider_id == provider_id)
            .order_by(CreditEvent.at.desc(), CreditEvent.id.desc())
        )
    )


def credit_event_row(e: CreditEvent, tz: str) -> dict[str, Any]:
    return {
        "at": clock.local(e.at, tz).strftime("%Y-%m-%d"),
        "kind": e.kind,
        "kind_label": CREDIT_KINDS.get(e.kind, e.kind),
        "points": e.points,
        "reason": e.reason,
        "order_id": e.order_id,
        "recorded_by": e.recorded_by,
    }


def credit_score(session: Session, *, provider_id: int, at: datetime) -> float:
    points = session.scalar(
        select(func.coalesce(func.sum(CreditEvent.points), 0)).where(
            CreditEvent.provider_id == provider_id,
            CreditEvent.at > at - CREDIT_WINDOW,
            CreditEvent.at <= at,
        )
    )
    return max(0.0, min(100.0, CREDIT_BASE + float(points or 0)))


# ---------------------------------------------------------------- measures


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def compute_metrics(
    session: Session, *, provider_id: int, start: datetime, end: datetime
) -> Metrics:
    served = list(
        session.scalars(
            select(ServiceOrder).where(
                ServiceOrder.provider_id == provider_id,
                ServiceOrder.completed_at >= start,
                ServiceOrder.completed_at < end,
            )
        )
    )
    due = [o for o in served if o.arrival_due_at is not None and o.checked_in_at is not None]
    on_time = [o for o in due if o.checked_in_at <= o.arrival_due_at]  # type: ignore[operator]
    durations = [
        (o.checked_out_at - o.checked_in_at).total_seconds() / 60
        for o in served
        if o.checked_in_at is not None and o.checked_out_at is not None
    ]
    ratings = [float(o.rating) for o in served if o.rating is not None]
    visits = list(
        session.scalars(
            select(ReturnVisit).where(
                ReturnVisit.provider_id == provider_id,
                ReturnVisit.at >= start,
                ReturnVisit.at < end,
                ReturnVisit.satisfaction.is_not(None),
            )
        )
    )
    satisfaction_scores = [float(v.satisfaction) for v in visits if v.satisfaction is not None]
    all_scores = ratings + satisfaction_scores
    complaints = int(
        session.scalar(
            select(func.count())
            .select_from(ServiceOrder)
            .where(
                ServiceOrder.provider_id == provider_id,
                ServiceOrder.complaint_at >= start,
                ServiceOrder.complaint_at < end,
                # a complaint closed as not upheld (the provider was not at fault) is not held
                # against it
                ~exists().where(
                    OrderComplaint.order_id == ServiceOrder.id, OrderComplaint.upheld.is_(False)
                ),
            )
        )
        or 0
    )
    provider_of = OrderTransition.detail["provider_id"].as_integer()
    steps = session.execute(
        select(OrderTransition.command, OrderTransition.detail).where(
            OrderTransition.command.in_(["dispatch_to", "reject"]),
            provider_of == provider_id,
            OrderTransition.at >= start,
            OrderTransition.at < end,
        )
    ).all()
    dispatched = sum(1 for c, _ in steps if c == "dispatch_to")
    declined = sum(
        1 for c, d in steps if c == "reject" and d.get("cause", "declined") == "declined"
    )
    timed_out = sum(1 for c, d in steps if c == "reject" and d.get("cause") == "timed_out")
    breaches = int(
        session.scalar(
            select(func.count())
            .select_from(SlaBreach)
            .where(
                SlaBreach.provider_id == provider_id,
                SlaBreach.detected_at >= start,
                SlaBreach.detected_at < end,
            )
        )
        or 0
    )
    points = float(
        session.scalar(
            select(func.coalesce(func.sum(CreditEvent.points), 0)).where(
                CreditEvent.provider_id == provider_id,
                CreditEvent.at >= start,
                CreditEvent.at < end,
            )
        )
        or 0
    )
    return Metrics(
        service_count=len(served),
        dispatched=dispatched,
        on_time_due=len(due),
        on_time=len(on_time),
        on_time_rate=round(len(on_time) / len(due), 4) if due else None,
        avg_duration_min=_mean(durations),
        ratings=len(ratings),
        avg_rating=_mean(ratings),
        visits=len(visits),
        avg_visit_satisfaction=_mean(satisfaction_scores),
        dissatisfied=sum(1 for v in visits if v.result == "dissatisfied"),
        satisfaction=round((sum(all_scores) / len(all_scores) - 1) / 4, 4) if all_scores else None,
        complaints=complaints,
        complaint_rate=round(complaints / len(served), 4)
        if served
        else (1.0 if complaints else 0.0),
        declined=declined,
        timed_out=timed_out,
        sla_breaches=breaches,
        credit_points=points,
        credit_score=credit_score(session, provider_id=provider_id, at=end),
    )


def score_of(metrics: Metrics, settings: Settings) -> tuple[float, dict[str, float]]:
    w = {"on_time": 30.0, "satisfaction": 30.0, "complaints": 20.0, "credit": 20.0}
    w.update(_numbers(settings.evaluation_weights, "evaluation_weights"))
    parts = {
        "on_time": w["on_time"]
        * (metrics.on_time_rate if metrics.on_time_rate is not None else NEUTRAL),
        "satisfaction": w["satisfaction"]
        * (metrics.satisfaction if metrics.satisfaction is not None else NEUTRAL),
        "complaints": w["complaints"] * max(0.0, 1 - metrics.complaint_rate / COMPLAINT_RATE_ZERO),
        "credit": w["credit"] * metrics.credit_score / 100,
    }
    parts = {k: round(v, 1) for k, v in parts.items()}
    return round(sum(parts.values()), 1), parts


def grade_of(score: float, settings: Settings) -> str:
    floors = sorted(
        _numbers(settings.evaluation_grade_floors, "evaluation_grade_floors").items(),
        key=lambda kv: -kv[1],
    )
    for grade, floor in floors:
        if score >= floor:
            return grade
    return floors[-1][0]


def status_for(score: float, grade: str, settings: Settings) -> str:
    if score < settings.evaluation_suspend_below:
        return ProviderStatus.SUSPENDED
    mapping = parse_pairs(settings.evaluation_grade_status, variable="evaluation_grade_status")
    status = mapping.get(grade, ProviderStatus.NORMAL)
    if status not in set(ProviderStatus):
        raise SettingsError(f"HOTLINE_EVALUATION_GRADE_STATUS: 未知状态 {status}")
    return status


# ---------------------------------------------------------------- evaluating


def evaluate_provider(
    session: Session,
    *,
    actor: Actor,
    provider_id: int,
    start: datetime,
    end: datetime,
    label: str,
    kind: str = "on_demand",
    apply: bool = True,
) -> ProviderEvaluation:
    """Measure, score and grade one provider over [start, end); with ``apply`` the grade, credit
    score and status go on the provider (and from there into dispatch)."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require_manager(session, actor, provider, "evaluation.evaluate")
    if end <= start:
        raise ValidationFailed(
            "评估期间无效 / the period ends before it starts", code="invalid_period"
        )
    settings = settings_of(session)
    metrics = compute_metrics(session, provider_id=provider.id, start=start, end=end)
    score, parts = score_of(metrics, settings)
    grade = grade_of(score, settings)
    proposed = status_for(score, grade, settings)
    before_status, before_grade = provider.status, provider.grade
    notes: list[str] = []
    applied = False
    after_status = before_status
    if not apply:
        notes.append("仅评估, 未应用 / evaluated only")
    elif before_status == ProviderStatus.TERMINATED:
        notes.append("已终止合作, 状态不变 / terminated")
    elif metrics.service_count < settings.evaluation_min_orders:
        notes.append(
            f"服务量 {metrics.service_count} 单不足 {settings.evaluation_min_orders} 单, 等级和状态不变, 仅供参考 / "
            "too few services to move the provider"
        )
    else:
        applied = True
        providers.update_provider(
            session,
            actor=actor,
            provider_id=provider.id,
            grade=grade,
            credit_score=metrics.credit_score,
        )
        manual_suspension = before_status == ProviderStatus.SUSPENDED and not (
            provider.status_reason or ""
        ).startswith(REASON_PREFIX)
        if manual_suspension:
            notes.append("人工暂停派单, 评估不解除 / a suspension imposed by hand stays")
        elif proposed != before_status:
            providers.set_status(
                session,
                actor=actor,
                provider_id=provider.id,
                status=proposed,
                reason=f"{REASON_PREFIX} {label}: 得分 {score} 等级 {grade}",
            )
            after_status = proposed
    row = ProviderEvaluation(
        provider_id=provider.id,
        region_code=provider.region_code,
        period_start=start,
        period_end=end,
        period_label=label,
        kind=kind,
        metrics=asdict(metrics),
        parts=parts,
        score=score,
        grade=grade,
        credit_score=metrics.credit_score,
        grade_before=before_grade,
        status_before=before_status,
        status_proposed=proposed,
        status_after=after_status,
        applied=applied,
        note="; ".join(notes),
        created_by=actor.label,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="evaluation.evaluate",
        target_type="provider",
        target_id=provider.id,
        detail={
            "evaluation_id": row.id,
            "period": label,
            "score": score,
            "grade": grade,
            "status": [before_status, after_status],
            "applied": applied,
        },
    )
    return row


def evaluate_month(
    session: Session, *, actor: Actor, month: str, region_code: str | None = None
) -> list[ProviderEvaluation]:
    """The monthly evaluation of every provider (not terminated) of a region."""
    _require_manager(session, actor, None, "evaluation.evaluate_month")
    start, end = month_bounds(month, settings_of(session).timezone)
    scope = region_code or actor.region_code
    out = []
    for provider in providers.list_providers(session, region_code=scope):
        if not codes.is_within(provider.region_code, actor.region_code):
            continue
        out.append(
            evaluate_provider(
                session,
                actor=actor,
                provider_id=provider.id,
                start=start,
                end=end,
                label=month,
                kind="monthly",
            )
        )
    return out


def get_evaluation(session: Session, *, actor: Actor, evaluation_id: int) -> ProviderEvaluation:
    row = session.get(ProviderEvaluation, evaluation_id)
    if row is None:
        raise EvaluationNotFound(f"评估不存在: {evaluation_id} / unknown evaluation")
    if actor.kind != "system" and not codes.is_within(row.region_code, actor.region_code):
        audit.record_refusal(
            session,
            actor=actor,
            action="evaluation.view",
            target_type="provider_evaluation",
            target_id=row.id,
            detail={"reason": "out_of_region"},
        )
        raise PermissionDenied("无权查看其他地区的评估 / outside your region", code="out_of_region")
    return row


def list_evaluations(
    session: Session,
    *,
    region_code: str,
    provider_id: int | None = None,
    period_label: str | None = None,
) -> list[ProviderEvaluation]:
    q = (
        select(ProviderEvaluation)
        .where(within(ProviderEvaluation.region_code, region_code))
        .order_by(ProviderEvaluation.period_start.desc(), ProviderEvaluation.provider_id)
    )
    if provider_id is not None:
        q = q.where(ProviderEvaluation.provider_id == provider_id)
    if period_label is not None:
        q = q.where(ProviderEvaluation.period_label == period_label)
    return list(session.scalars(q))


def summary(session: Session, row: ProviderEvaluation) -> dict[str, Any]:
    provider = session.get(Provider, row.provider_id)
    return {
        "id": row.id,
        "provider_id": row.provider_id,
        "provider_name": provider.name if provider else "",
        "period": row.period_label,
        "kind": row.kind,
        "score": row.score,
        "grade": row.grade,
        "credit_score": row.credit_score,
        "parts": row.parts,
        "metrics": row.metrics,
        "status_before": row.status_before,
        "status_proposed": row.status_proposed,
        "status_after": row.status_after,
        "applied": row.applied,
        "note": row.note,
        "created_at": row.created_at.isoformat(),
    }
