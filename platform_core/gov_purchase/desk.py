"""What the government-purchase desk shows: the application queue and each month's allowances
with the orders that drew them, a page at a time, names and ID numbers masked; and one
application with its steps, notices, the elder's assessment and the steps open from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.assessment.service import current_assessment
from platform_core.assessment.standard import AbilityGrade
from platform_core.catalogue.models import ServiceType
from platform_core.elders.models import Elder
from platform_core.gov_purchase.models import (
    AllowanceCharge,
    GovPurchaseApplication,
    ServiceAllowance,
)
from platform_core.gov_purchase.service import ACTION_LABELS, CHAIN, STATUS_LABELS, get_application
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import STATUS_LABELS as ORDER_STATUS_LABELS
from platform_core.paging import Page, fetch_page_of_ids
from platform_core.regions.service import within
from platform_core.security.masking import mask_name


@dataclass(frozen=True)
class QueueRow:
    application_id: int
    status: str
    status_label: str
    applied_on: date
    source: str
    publicity_ends_on: date | None
    elder_id: int
    elder_name: str  # masked
    id_number: str  # masked
    region_code: str


def application_queue(
    session: Session,
    *,
    region_code: str,
    statuses: Sequence[str] = (),
    applied_from: date | None = None,
    applied_until: date | None = None,
    elder_ids: Sequence[int] | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[QueueRow]:
    """Applications of the region and below, the oldest waiting first within a status filter,
    the newest first without one."""
    app = GovPurchaseApplication
    q = select(app.id).where(within(app.region_code, region_code))
    if statuses:
        q = q.where(app.status.in_(list(statuses))).order_by(app.applied_on, app.id)
    else:
        q = q.order_by(app.applied_on.desc(), app.id.desc())
    if applied_from is not None:
        q = q.where(app.applied_on >= applied_from)
    if applied_until is not None:
        q = q.where(app.applied_on <= applied_until)
    if elder_ids is not None:
        q = q.where(app.elder_id.in_(list(elder_ids) or [0]))
    found = fetch_page_of_ids(
        session,
        q,
        lambda ids: (
            select(app, Elder.name, Elder.id_number_masked)
            .join(Elder, Elder.id == app.elder_id)
            .where(app.id.in_(ids))
        ),
        page=page,
        size=size,
    )
    rows = [
        QueueRow(
            application_id=app.id,
            status=app.status,
            status_label=STATUS_LABELS[app.status],
            applied_on=app.applied_on,
            source=app.source,
            publicity_ends_on=app.publicity_ends_on,
            elder_id=app.elder_id,
            elder_name=mask_name(name),
            id_number=masked,
            region_code=app.region_code,
        )
        for app, name, masked in found.rows
    ]
    return Page(rows=rows, total=found.total, page=found.page, size=found.size)


@dataclass(frozen=True)
class DrawingOrder:
    order_id: int
    order_no: str
    service: str
    status_label: str
    amount: Decimal
    released: bool


@dataclass(frozen=True)
class AllowanceRow:
    allowance_id: int
    elder_id: int
    elder_name: str  # masked
    region_code: str
    granted: Decimal
    consumed: Decimal
    orders: list[DrawingOrder]

    @property
    def remaining(self) -> Decimal:
        return self.granted - self.consumed


def month_allowances(
    session: Session,
    *,
    region_code: str,
    month: date,
    elder_ids: Sequence[int] | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[AllowanceRow]:
    """Each approved elder's allowance of ``month`` (opened by an order or the monthly run)
    with the orders that drew on it, released charges included and marked."""
    q = (
        select(ServiceAllowance.id)
        .where(
            within(ServiceAllowance.region_code, region_code),
            ServiceAllowance.month == month.replace(day=1),
        )
        .order_by(ServiceAllowance.region_code, ServiceAllowance.elder_id)
    )
    if elder_ids is not None:
        q = q.where(ServiceAllowance.elder_id.in_(list(elder_ids) or [0]))
    found = fetch_page_of_ids(
        session,
        q,
        lambda ids: (
            select(ServiceAllowance, Elder.name)
            .join(Elder, Elder.id == ServiceAllowance.elder_id)
            .where(ServiceAllowance.id.in_(ids))
        ),
        page=page,
        size=size,
    )
    ids = [a.id for a, _ in found.rows]
    drawn: dict[int, list[DrawingOrder]] = {i: [] for i in ids}
    if ids:
        charges = session.execute(
            select(AllowanceCharge, ServiceOrder.order_no, ServiceOrder.status, ServiceType.name)
            .join(ServiceOrder, ServiceOrder.id == AllowanceCharge.order_id)
            .join(ServiceType, ServiceType.code == ServiceOrder.service_type_code)
            .where(AllowanceCharge.allowance_id.in_(ids))
            .order_by(AllowanceCharge.charged_at, AllowanceCharge.id)
        )
        for charge, order_no, status, service in charges:
            drawn[charge.allowance_id].append(
                DrawingOrder(
                    order_id=charge.order_id,
                    order_no=order_no,
                    service=service,
                    status_label=ORDER_STATUS_LABELS.get(status, status),
                    amount=charge.amount,
                    released=charge.released_at is not None,
                )
            )
    rows = [
        AllowanceRow(
            allowance_id=a.id,
            elder_id=a.elder_id,
            elder_name=mask_name(name),
            region_code=a.region_code,
            granted=a.granted,
            consumed=a.consumed,
            orders=drawn[a.id],
        )
        for a, name in found.rows
    ]
    return Page(rows=rows, total=found.total, page=found.page, size=found.size)


@dataclass(frozen=True)
class ApplicationView:
    application: GovPurchaseApplication
    elder: Elder
    status_label: str
    grade_label: str | None
    assessed_on: date | None
    assessment_due_on: date | None
    actions: list[tuple[str, str]]  # (action, label) open from the current status


def application_view(session: Session, *, application_id: int) -> ApplicationView:
    app = get_application(session, application_id=application_id)
    elder = session.get(Elder, app.elder_id)
    assert elder is not None
    assessment = current_assessment(session, elder_id=app.elder_id)
    grade = None
    if assessment is not None:
        grade = assessment.legacy_grade_label or AbilityGrade(assessment.final_grade).label
    actions = [
        (action, ACTION_LABELS[action])
        for (status, action) in CHAIN.transitions
        if status == app.status
    ]
    return ApplicationView(
        application=app,
        elder=elder,
        status_label=STATUS_LABELS[app.status],
        grade_label=grade,
        assessed_on=assessment.assessed_on if assessment else None,
        assessment_due_on=assessment.next_due_on if assessment else None,
        actions=actions,
    )
