"""A provider's own records, as the standard asks (7.5.3: query, download and print its own
information without obstacles): its orders of a month, settlements, evaluation reports and
credit record. Only the provider's own accounts see them; every download is watermarked with
who took it and audited.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import PermissionDenied, ValidationFailed
from platform_core.evaluation import service as evaluation
from platform_core.evaluation.models import CreditEvent, ProviderEvaluation
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import STATUS_LABELS
from platform_core.providers import service as providers
from platform_core.providers.access import is_practitioner
from platform_core.providers.models import STATUS_LABELS as PROVIDER_STATUS_LABELS
from platform_core.providers.models import ProviderStatus
from platform_core.security.exports import watermark
from platform_core.settlement import service as settlement
from platform_core.settlement.models import Settlement

ORDER_COLUMNS = ("工单号", "服务", "状态", "建单时间", "服务人员编号", "金额", "补贴", "自付")


def _provider_id(session: Session, actor: Actor, action: str) -> int:
    if actor.provider_id is None or is_practitioner(actor):
        audit.record_refusal(
            session,
            actor=actor,
            action=action,
            target_type="provider",
            detail={"reason": "not_a_provider"},
        )
        raise PermissionDenied(
            "只有服务商本机构的账号可以查看 / provider accounts only", code="not_a_provider"
        )
    return actor.provider_id


def _month_bounds(session: Session, month: str) -> tuple[datetime, datetime]:
    try:
        year, mon = (int(x) for x in month.split("-"))
        first = datetime(year, mon, 1).date()
    except ValueError:
        raise ValidationFailed(
            f"月份格式应为 YYYY-MM: {month} / bad month", code="invalid_month"
        ) from None
    following = first.replace(year=first.year + (mon == 12), month=mon % 12 + 1)
    tz = clock.timezone_of(session)
    return clock.start_of_day(first, tz), clock.start_of_day(following, tz)


def _orders(session: Session, provider_id: int, month: str) -> list[ServiceOrder]:
    start, end = _month_bounds(session, month)
    return list(
        session.scalars(
            select(ServiceOrder)
            .where(
                ServiceOrder.provider_id == provider_id,
                ServiceOrder.created_at >= start,
                ServiceOrder.created_at < end,
            )
            .order_by(ServiceOrder.id)
        )
    )


def _order_row(o: ServiceOrder, tz: str) -> list[Any]:
    return [
        o.order_no,
        o.service_type_code,
        STATUS_LABELS.get(o.status, o.status),
        clock.local(o.created_at, tz).strftime("%Y-%m-%d %H:%M"),
        o.staff_id or "",
        str(o.price),
        str(o.subsidy),
        str(o.self_pay),
    ]


def records(session: Session, *, actor: Actor, month: str) -> dict[str, Any]:
    """Everything the provider's records page shows; viewing it is audited."""
    provider_id = _provider_id(session, actor, "provider.records")
    provider = providers.get_provider(session, provider_id=provider_id)
    tz = clock.timezone_of(session)
    events = evaluation.list_credit_events(session, provider_id=provider_id)
    evaluations = list(
        session.scalars(
            select(ProviderEvaluation)
            .where(ProviderEvaluation.provider_id == provider_id)
            .order_by(ProviderEvaluation.period_start.desc())
        )
    )
    statements = list(
        session.scalars(
            select(Settlement)
            .where(Settlement.provider_id == provider_id)
            .order_by(Settlement.id.desc())
        )
    )
    audit.record(
        session,
        actor=actor,
        action="provider.records",
        target_type="provider",
        target_id=provider_id,
        detail={"month": month},
    )
    return {
        "provider": {
            "name": provider.name,
            "credit_code": provider.credit_code,
            "grade": provider.grade,
            "status": PROVIDER_STATUS_LABELS[ProviderStatus(provider.status)],
            "status_reason": provider.status_reason,
            "credit_score": evaluation.credit_score(
                session, provider_id=provider_id, at=clock.now()
            ),
        },
        "credit_events": [evaluation.credit_event_row(e, tz) for e in events],
        "evaluations": [
            {
                "id": e.id,
                "period": e.period_label,
                "score": e.score,
                "grade": e.grade,
                "status": PROVIDER_STATUS_LABELS.get(
                    ProviderStatus(e.status_after), e.status_after
                ),
            }
            for e in evaluations
        ],
        "settlements": [settlement.summary(s) for s in statements],
        "month": month,
        "orders": [_order_row(o, tz) for o in _orders(session, provider_id, month)],
        "order_columns": ORDER_COLUMNS,
    }


def _csv(actor: Actor, tz: str, header: tuple[str, ...], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([watermark(actor, tz)])
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def orders_csv(session: Session, *, actor: Actor, month: str) -> bytes:
    provider_id = _provider_id(session, actor, "provider.export_orders")
    tz = clock.timezone_of(session)
    rows = [_order_row(o, tz) for o in _orders(session, provider_id, month)]
    audit.record(
        session,
        actor=actor,
        action="provider.export_orders",
        target_type="provider",
        target_id=provider_id,
        detail={"month": month, "rows": len(rows)},
    )
    return _csv(actor, tz, ORDER_COLUMNS, rows)


def credit_csv(session: Session, *, actor: Actor) -> bytes:
    provider_id = _provider_id(session, actor, "provider.export_credit")
    tz = clock.timezone_of(session)
    rows = [
        [
            e.at.astimezone(clock.zone(tz)).strftime("%Y-%m-%d"),
            evaluation.CREDIT_KINDS.get(e.kind, e.kind),
            e.points,
            e.reason,
            e.order_id or "",
        ]
        for e in session.scalars(
            select(CreditEvent)
            .where(CreditEvent.provider_id == provider_id)
            .order_by(CreditEvent.at)
        )
    ]
    audit.record(
        session,
        actor=actor,
        action="provider.export_credit",
        target_type="provider",
        target_id=provider_id,
        detail={"rows": len(rows)},
    )
    return _csv(actor, tz, ("日期", "类型", "分值", "原因", "相关工单"), rows)


def own_evaluation(session: Session, *, actor: Actor, evaluation_id: int) -> None:
    """Refuse an evaluation report that is not the provider's own (audited)."""
    provider_id = _provider_id(session, actor, "provider.evaluation")
    row = session.get(ProviderEvaluation, evaluation_id)
    if row is None or row.provider_id != provider_id:
        audit.record_refusal(
            session,
            actor=actor,
            action="provider.evaluation",
            target_type="provider_evaluation",
            target_id=evaluation_id,
            detail={"reason": "not_your_provider"},
        )
        raise PermissionDenied(
            "只能查看本机构的评估报告 / your own reports only", code="not_your_provider"
        )
