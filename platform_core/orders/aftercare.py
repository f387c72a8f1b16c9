"""What the desk of orders after service shows, a page at a time: orders waiting for their
return visit and rating, complaints by state, orders ready to close; one order with its rating,
return visits, survey calls and complaints. Names are masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from platform_core.catalogue.models import ServiceType
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.orders.models import (
    OrderComplaint,
    OrderSurveyCall,
    ReturnVisit,
    ServiceOrder,
)
from platform_core.orders.service import get_order
from platform_core.orders.states import STATUS_LABELS, OrderStatus
from platform_core.paging import Page, fetch_page_of_ids
from platform_core.providers.models import Provider
from platform_core.regions.service import within
from platform_core.security.masking import mask_name
from platform_core.settings import Settings


@dataclass(frozen=True)
class OrderRow:
    order_id: int
    order_no: str
    service: str
    status_label: str
    elder_name: str  # masked
    provider: str
    completed_at: datetime | None
    rating: int | None


def _rows(found: Page[tuple[ServiceOrder, str, str, str | None]]) -> Page[OrderRow]:
    return Page(
        rows=[
            OrderRow(
                order_id=o.id,
                order_no=o.order_no,
                service=service,
                status_label=STATUS_LABELS.get(o.status, o.status),
                elder_name=mask_name(name),
                provider=provider or "",
                completed_at=o.completed_at,
                rating=o.rating,
            )
            for o, name, service, provider in found.rows
        ],
        total=found.total,
        page=found.page,
        size=found.size,
    )


def _load(ids: list[int]) -> Any:
    return (
        select(ServiceOrder, Elder.name, ServiceType.name, Provider.name)
        .join(Elder, Elder.id == ServiceOrder.elder_id)
        .join(ServiceType, ServiceType.code == ServiceOrder.service_type_code)
        .outerjoin(Provider, Provider.id == ServiceOrder.provider_id)
        .where(ServiceOrder.id.in_(ids))
    )


def due_visits(
    session: Session, *, region_code: str, settings: Settings, page: int = 1, size: int = 50
) -> Page[OrderRow]:
    """Confirmed orders waiting for their rating and return visit, the oldest first."""
    due_before = utcnow() - timedelta(hours=settings.return_visit_after_h)
    q = (
        select(ServiceOrder.id)
        .where(
            within(ServiceOrder.region_code, region_code),
            ServiceOrder.status.in_([OrderStatus.CONFIRMED.value, OrderStatus.RATED.value]),
            ServiceOrder.completed_at <= due_before,
        )
        .order_by(ServiceOrder.completed_at, ServiceOrder.id)
    )
    return _rows(fetch_page_of_ids(session, q, _load, page=page, size=size))


def ready_to_close(
    session: Session, *, region_code: str, page: int = 1, size: int = 50
) -> Page[OrderRow]:
    """Orders whose life is over but for closing: settled; visited back with nothing to pay;
    complaints whose every complaint is closed."""
    open_complaint = exists().where(
        OrderComplaint.order_id == ServiceOrder.id, OrderComplaint.status != "closed"
    )
    q = (
        select(ServiceOrder.id)
        .where(
            within(ServiceOrder.region_code, region_code),
            or_(
                ServiceOrder.status == OrderStatus.SETTLED.value,
                and_(
                    ServiceOrder.status == OrderStatus.RETURN_VISITED.value,
                    ServiceOrder.price == 0,
                ),
                and_(ServiceOrder.status == OrderStatus.COMPLAINT.value, ~open_complaint),
            ),
        )
        .order_by(ServiceOrder.id)
    )
    return _rows(fetch_page_of_ids(session, q, _load, page=page, size=size))


@dataclass(frozen=True)
class ComplaintRow:
    complaint: OrderComplaint
    order_no: str
    elder_name: str  # masked
    provider: str


def complaints(
    session: Session,
    *,
    region_code: str,
    statuses: Sequence[str] = (),
    page: int = 1,
    size: int = 50,
) -> Page[ComplaintRow]:
    q = (
        select(OrderComplaint.id)
        .where(within(OrderComplaint.region_code, region_code))
        .order_by(OrderComplaint.opened_at.desc(), OrderComplaint.id.desc())
    )
    if statuses:
        q = q.where(OrderComplaint.status.in_(list(statuses)))
    found = fetch_page_of_ids(
        session,
        q,
        lambda ids: (
            select(OrderComplaint, ServiceOrder.order_no, Elder.name, Provider.name)
            .join(ServiceOrder, ServiceOrder.id == OrderComplaint.order_id)
            .join(Elder, Elder.id == ServiceOrder.elder_id)
            .outerjoin(Provider, Provider.id == OrderComplaint.provider_id)
            .where(OrderComplaint.id.in_(ids))
        ),
        page=page,
        size=size,
    )
    return Page(
        rows=[ComplaintRow(c, no, mask_name(name), prov or "") for c, no, name, prov in found.rows],
        total=found.total,
        page=found.page,
        size=found.size,
    )


@dataclass(frozen=True)
class OrderAftercare:
    order: ServiceOrder
    status_label: str
    service: str
    elder_name: str  # masked
    provider: str
    visits: list[ReturnVisit]
    survey_calls: list[OrderSurveyCall]
    complaints: list[OrderComplaint]


def order_aftercare(session: Session, *, order_id: int) -> OrderAftercare:
    order = get_order(session, order_id=order_id)
    elder = session.get(Elder, order.elder_id)
    service = session.get(ServiceType, order.service_type_code)
    provider = session.get(Provider, order.provider_id) if order.provider_id else None
    return OrderAftercare(
        order=order,
        status_label=STATUS_LABELS.get(order.status, order.status),
        service=service.name if service else order.service_type_code,
        elder_name=mask_name(elder.name if elder else ""),
        provider=provider.name if provider else "",
        visits=list(
            session.scalars(
                select(ReturnVisit).where(ReturnVisit.order_id == order.id).order_by(ReturnVisit.id)
            )
        ),
        survey_calls=list(
            session.scalars(
                select(OrderSurveyCall)
                .where(OrderSurveyCall.order_id == order.id)
                .order_by(OrderSurveyCall.id)
            )
        ),
        complaints=list(
            session.scalars(
                select(OrderComplaint)
                .where(OrderComplaint.order_id == order.id)
                .order_by(OrderComplaint.id)
            )
        ),
    )
