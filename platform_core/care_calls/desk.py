"""What the care-call desk shows: the campaigns of a region a page at a time, and one campaign's
calls with each attempt's outcome and the escalations they started (the text to the family,
the visit order), names and numbers masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.care_calls.models import CareCall, CareCallAttempt, CareCampaign, CareNotice
from platform_core.care_calls.service import campaign_summary
from platform_core.elders.models import Elder
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import STATUS_LABELS as ORDER_STATUS_LABELS
from platform_core.paging import Page, fetch_page, fetch_page_of_ids
from platform_core.regions.service import within
from platform_core.security.masking import mask_name, mask_phone

CAMPAIGN_STATUS = {
    "scheduled": "待开始",
    "running": "进行中",
    "finished": "已结束",
    "cancelled": "已取消",
}
CALL_STATUS = {
    "pending": "待呼叫",
    "calling": "呼叫中",
    "retry": "待重拨",
    "well": "平安",
    "needs_help": "需要帮助",
    "no_key": "接通未按键 (转人工)",
    "unreachable": "未接通 (已通知家属、派探访)",
    "skipped": "已跳过",
    "cancelled": "已取消",
}
ATTEMPT_RESULT = {
    "placing": "发起中",
    "dialling": "振铃中",
    "answered": "已接通",
    "well": "平安",
    "needs_help": "需要帮助",
    "no_key": "未按键",
    "no_answer": "无人接听",
    "busy": "忙",
    "failed": "呼叫失败",
}
REASONS = {
    "routine": "例行关怀",
    "extreme_weather": "极端天气",
    "holiday": "节假日",
    "other": "其他",
}


@dataclass(frozen=True)
class CampaignRow:
    campaign: CareCampaign
    status_label: str
    calls: int


def campaigns(
    session: Session, *, region_code: str, page: int = 1, size: int = 50
) -> Page[CampaignRow]:
    calls = (
        select(func.count())
        .where(CareCall.campaign_id == CareCampaign.id)
        .correlate(CareCampaign)
        .scalar_subquery()
    )
    q = (
        select(CareCampaign, calls)
        .where(within(CareCampaign.region_code, region_code))
        .order_by(CareCampaign.id.desc())
    )
    found = fetch_page(session, q, page=page, size=size)
    return Page(
        rows=[
            CampaignRow(c, CAMPAIGN_STATUS.get(c.status, c.status), int(n)) for c, n in found.rows
        ],
        total=found.total,
        page=found.page,
        size=found.size,
    )


@dataclass(frozen=True)
class CallRow:
    care_call_id: int
    elder_id: int
    elder_name: str  # masked
    number: str  # masked
    status: str
    status_label: str
    attempts: int
    last_result: str
    last_at: datetime | None
    notice: str  # the text to the family: to whom (masked) and its state
    visit_order: str  # the visit order's number and state


def _rows(session: Session, calls: Sequence[tuple[CareCall, str]]) -> list[CallRow]:
    ids = [c.id for c, _ in calls]
    last: dict[int, CareCallAttempt] = {}
    for tried in session.scalars(
        select(CareCallAttempt)
        .where(CareCallAttempt.care_call_id.in_(ids or [0]))
        .order_by(CareCallAttempt.attempt_no)
    ):
        last[tried.care_call_id] = tried
    notices = {
        n.id: n
        for n in session.scalars(
            select(CareNotice).where(
                CareNotice.id.in_([c.notice_id for c, _ in calls if c.notice_id] or [0])
            )
        )
    }
    orders = {
        o.id: o
        for o in session.scalars(
            select(ServiceOrder).where(
                ServiceOrder.id.in_([c.visit_order_id for c, _ in calls if c.visit_order_id] or [0])
            )
        )
    }
    out = []
    for call, name in calls:
        attempt = last.get(call.id)
        notice = notices.get(call.notice_id or 0)
        order = orders.get(call.visit_order_id or 0)
        out.append(
            CallRow(
                care_call_id=call.id,
                elder_id=call.elder_id,
                elder_name=mask_name(name),
                number=mask_phone(call.number),
                status=call.status,
                status_label=CALL_STATUS.get(call.status, call.status),
                attempts=call.attempts,
                last_result=ATTEMPT_RESULT.get(attempt.status, attempt.status) if attempt else "",
                last_at=attempt.ended_at or attempt.placed_at if attempt else None,
                notice=(
                    f"短信{'已发' if notice.status == 'sent' else '待发'}给 {mask_name(notice.to_name)} "
                    f"{mask_phone(notice.to_number)}"
                    if notice
                    else ""
                ),
                visit_order=(
                    f"探访工单 {order.order_no} ({ORDER_STATUS_LABELS.get(order.status, order.status)})"
                    if order
                    else ""
                ),
            )
        )
    return out


def campaign_calls(
    session: Session,
    *,
    campaign_id: int,
    statuses: Sequence[str] = (),
    page: int = 1,
    size: int = 50,
) -> Page[CallRow]:
    q = select(CareCall.id).where(CareCall.campaign_id == campaign_id).order_by(CareCall.id)
    if statuses:
        q = q.where(CareCall.status.in_(list(statuses)))
    found = fetch_page_of_ids(
        session,
        q,
        lambda ids: (
            select(CareCall, Elder.name)
            .join(Elder, Elder.id == CareCall.elder_id)
            .where(CareCall.id.in_(ids))
        ),
        page=page,
        size=size,
    )
    return Page(
        rows=_rows(session, found.rows), total=found.total, page=found.page, size=found.size
    )


def calls_by_id(
    session: Session, *, campaign_id: int, care_call_ids: Sequence[int]
) -> list[CallRow]:
    """The given calls of a campaign as they stand now (a page's rows after a reconnect)."""
    rows = session.execute(
        select(CareCall, Elder.name)
        .join(Elder, Elder.id == CareCall.elder_id)
        .where(CareCall.campaign_id == campaign_id, CareCall.id.in_(list(care_call_ids) or [0]))
        .order_by(CareCall.id)
    ).all()
    return _rows(session, [(c, n) for c, n in rows])


def summary(session: Session, *, campaign_id: int) -> dict[str, int]:
    """Calls per status, with every status present."""
    counts = campaign_summary(session, campaign_id=campaign_id)
    return {status: counts.get(status, 0) for status in CALL_STATUS}
