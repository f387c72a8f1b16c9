"""Return visits (回访): the satisfaction call or survey after a service.

An order is due for its return visit ``return_visit_after_h`` after completion once the elder
confirmed it. Each attempt is kept against the order, its provider and its staff member (the
evaluation reads them); an elder not reached is tried again after ``return_visit_retry_h``, and
only the last allowed attempt closes the visit as "unreachable".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.catalogue import service as catalogue
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.errors import ValidationFailed
from platform_core.orders import service as orders
from platform_core.orders.models import (
    RETURN_VISIT_LABELS,
    ReturnVisit,
    ReturnVisitResult,
    ServiceOrder,
)
from platform_core.orders.states import Command, OrderStatus
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.security.masking import mask_phone

# The survey read to the elder: question code -> (question, kind). "score" is 1-5, "yes_no" a bool.
SURVEY: dict[str, tuple[str, str]] = {
    "on_time": ("服务人员是否按约定时间上门?", "yes_no"),
    "attitude": ("服务态度打几分 (1-5)?", "score"),
    "quality": ("服务质量打几分 (1-5)?", "score"),
    "as_requested": ("服务内容是否和您要求的一样?", "yes_no"),
    "use_again": ("以后还愿意使用这项服务吗?", "yes_no"),
}
CHANNELS = ("phone", "visit", "sms")
VISITABLE = (OrderStatus.CONFIRMED, OrderStatus.RATED)


def _attempts(session: Session, order_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    if not order_ids:
        return {}
    rows = session.execute(
        select(ReturnVisit.order_id, func.count(), func.max(ReturnVisit.at))
        .where(ReturnVisit.order_id.in_(order_ids))
        .group_by(ReturnVisit.order_id)
    )
    return {oid: (int(n), last) for oid, n, last in rows}


def list_due(
    session: Session, *, region_code: str, now: datetime | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Orders waiting for their return visit in a region, oldest completion first."""
    settings = settings_of(session)
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(ServiceOrder)
            .where(
                within(ServiceOrder.region_code, region_code),
                ServiceOrder.status.in_([s.value for s in VISITABLE]),
                ServiceOrder.completed_at <= now - timedelta(hours=settings.return_visit_after_h),
            )
            .order_by(ServiceOrder.completed_at)
            .limit(limit * 2)
        )
    )
    tried = _attempts(session, [o.id for o in rows])
    retry = timedelta(hours=settings.return_visit_retry_h)
    out = []
    for o in rows:
        n, last = tried.get(o.id, (0, None))
        if last is not None and last > now - retry:
            continue  # tried lately; try again after the retry interval
        elder = session.get(Elder, o.elder_id)
        out.append(
            {
                "order_id": o.id,
                "order_no": o.order_no,
                "service": catalogue.get_service_type(session, code=o.service_type_code).name,
                "elder_id": o.elder_id,
                "elder_name": elder.name if elder else "",
                "elder_phone": mask_phone(elder.phones[0].number) if elder and elder.phones else "",
                "provider_id": o.provider_id,
                "staff_id": o.staff_id,
                "completed_at": o.completed_at.isoformat() if o.completed_at else None,
                "rating": o.rating,
                "attempts": n,
            }
        )
        if len(out) >= limit:
            break
    return out


def _check_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, value in answers.items():
        if code not in SURVEY:
            raise ValidationFailed(
                f"未知回访问题: {code} / unknown survey question",
                code="invalid_survey",
                allowed=list(SURVEY),
            )
        kind = SURVEY[code][1]
        if kind == "score" and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5
        ):
            raise ValidationFailed(
                f"{SURVEY[code][0]} 须为 1-5 分 / a score from 1 to 5", code="invalid_survey"
            )
        if kind == "yes_no" and not isinstance(value, bool):
            raise ValidationFailed(
                f"{SURVEY[code][0]} 须回答是或否 / yes or no", code="invalid_survey"
            )
        out[code] = value
    return out


def record_visit(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    result: str,
    satisfaction: int | None = None,
    answers: Mapping[str, Any] | None = None,
    note: str = "",
    channel: str = "phone",
) -> ReturnVisit:
    """One return-visit attempt; a reached elder (or the last allowed try) completes the step."""
    order = orders.get_order(session, order_id=order_id)
    # the same rule as the order's return-visit step: hotline staff of the order's region
    orders._authorize(
        session,
        actor=actor,
        command=Command.RECORD_RETURN_VISIT,
        region_code=order.region_code,
        order=order,
    )
    if result not in set(ReturnVisitResult):
        raise ValidationFailed(
            f"未知回访结果: {result} / unknown return-visit result",
            code="invalid_return_visit",
            allowed=[r.value for r in ReturnVisitResult],
        )
    reached = result != ReturnVisitResult.UNREACHABLE
    if reached and (
        isinstance(satisfaction, bool)
        or not isinstance(satisfaction, int)
        or not 1 <= satisfaction <= 5
    ):
        raise ValidationFailed(
            "联系上老人时须记录满意度 1-5 / a satisfaction of 1-5 is required",
            code="satisfaction_required",
        )
    if channel not in CHANNELS:
        raise ValidationFailed(f"未知回访方式: {channel} / unknown channel", code="invalid_channel")
    checked = _check_answers(answers or {}) if reached else {}
    attempt_no = (
        session.scalar(
            select(func.count()).select_from(ReturnVisit).where(ReturnVisit.order_id == order.id)
        )
        or 0
    ) + 1
    final = reached or attempt_no >= settings_of(session).return_visit_max_attempts
    if final:
        # the order's own step (checks the lifecycle, locks the order, logs and publishes)
        orders.record_return_visit(
            session,
            actor=actor,
            order_id=order.id,
            result=result,
            note=note or RETURN_VISIT_LABELS[ReturnVisitResult(result)],
        )
    else:
        # not the order's step yet, but only where the step could be taken (refused and audited)
        orders._begin(session, actor=actor, command=Command.RECORD_RETURN_VISIT, order_id=order.id)
    row = ReturnVisit(
        order_id=order.id,
        provider_id=order.provider_id,
        staff_id=order.staff_id,
        region_code=order.region_code,
        attempt_no=attempt_no,
        at=utcnow(),
        by=actor.label,
        by_user_id=actor.user_id,
        channel=channel,
        result=result,
        satisfaction=satisfaction if reached else None,
        answers=checked,
        note=note.strip(),
    )
    session.add(row)
    session.flush()
    return row


def visits_of(session: Session, *, order_id: int) -> list[ReturnVisit]:
    return list(
        session.scalars(
            select(ReturnVisit)
            .where(ReturnVisit.order_id == order_id)
            .order_by(ReturnVisit.attempt_no)
        )
    )
