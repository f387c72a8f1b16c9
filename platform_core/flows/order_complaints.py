"""Complaints about orders (投诉): opened by hotline staff on a call or a visit (the order goes to
"complaint"), handled step by step, and closed with the reply given to the complainant (sent as
a text message to the elder's mobile, or the first contact's, when there is one) and whether it
was upheld. The order moves on by its own steps (a return visit, then settlement or closing).
Each step is audited; the provider's evaluation counts the complaint unless it was not upheld.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.permissions import Permission, require
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.errors import IllegalTransition, NotFound, ValidationFailed
from platform_core.notifications import service as notifications
from platform_core.orders import service as orders
from platform_core.orders.models import OrderComplaint
from platform_core.regions.service import require_within
from platform_core.runtime import settings_of

CHANNELS = {"phone": "电话", "visit": "上门", "letter": "来信"}
STATUS_LABELS = {"open": "待处理", "handling": "处理中", "closed": "已办结"}


def _text(value: str, what: str, code: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"请填写{what} / {code.replace('_', ' ')}", code=code)
    if len(text) > limit:
        raise ValidationFailed(f"{what}不能超过 {limit} 字 / too long", code=f"{code}_too_long")
    return text


def get_complaint(session: Session, *, complaint_id: int) -> OrderComplaint:
    row = session.get(OrderComplaint, complaint_id)
    if row is None:
        raise NotFound(
            f"投诉不存在: {complaint_id} / no such complaint", code="complaint_not_found"
        )
    return row


def complaints_of(session: Session, *, order_id: int) -> list[OrderComplaint]:
    return list(
        session.scalars(
            select(OrderComplaint)
            .where(OrderComplaint.order_id == order_id)
            .order_by(OrderComplaint.id)
        )
    )


def _audit(
    session: Session, actor: Actor, row: OrderComplaint, action: str, **detail: object
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"complaint.{action}",
        target_type="service_order",
        target_id=row.order_id,
        detail={"complaint_id": row.id, **detail},
    )


def open_complaint(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    text: str,
    channel: str = "phone",
    complainant: str = "本人",
) -> OrderComplaint:
    """Take a complaint about an order: the order's own step (who may, from which status) and
    the complaint to follow it through."""
    limit = settings_of(session).note_max_chars
    body = _text(text, "投诉内容", "complaint_required", limit)
    if channel not in CHANNELS:
        raise ValidationFailed(f"未知投诉渠道 {channel} / unknown channel", code="invalid_channel")
    order = orders.file_complaint(session, actor=actor, order_id=order_id, text=body)
    row = OrderComplaint(
        order_id=order.id,
        region_code=order.region_code,
        provider_id=order.provider_id,
        channel=channel,
        complainant=(complainant or "本人").strip()[:20],
        text=body,
        opened_by=actor.label[:80],
    )
    session.add(row)
    session.flush()
    _audit(session, actor, row, "open", channel=channel)
    return row


def _line(session: Session, actor: Actor, text: str, at: datetime | None = None) -> str:
    local = clock.local(at or clock.now(), settings_of(session).timezone)
    return f"{local:%Y-%m-%d %H:%M} {actor.name}: {text}"


def _handler(session: Session, actor: Actor, complaint_id: int) -> OrderComplaint:
    if actor.kind == "user":
        require(actor, Permission.HANDLE_COMPLAINTS)
    row = get_complaint(session, complaint_id=complaint_id)
    require_within(row.region_code, actor.region_code)
    if row.status == "closed":
        raise IllegalTransition("投诉已办结 / the complaint is closed", code="complaint_closed")
    return row


def handle_complaint(
    session: Session, *, actor: Actor, complaint_id: int, note: str
) -> OrderComplaint:
    """A step of the handling (the provider asked, the staff member heard, a visit made)."""
    row = _handler(session, actor, complaint_id)
    step = _text(note, "处理情况", "handling_required", settings_of(session).note_max_chars)
    row.status = "handling"
    row.handled_by = actor.label[:80]
    row.handling = (row.handling + "\n" if row.handling else "") + _line(session, actor, step)
    session.flush()
    _audit(session, actor, row, "handle")
    return row


def close_complaint(
    session: Session, *, actor: Actor, complaint_id: int, reply: str, upheld: bool
) -> OrderComplaint:
    """Close with the reply given to the complainant; it goes by text message to the elder's
    mobile (else the first emergency contact's) when there is one."""
    row = _handler(session, actor, complaint_id)
    answer = _text(reply, "答复内容", "reply_required", settings_of(session).note_max_chars)
    row.status, row.reply, row.upheld = "closed", answer, upheld
    row.closed_at, row.closed_by = clock.now(), actor.label[:80]
    row.handling = (row.handling + "\n" if row.handling else "") + _line(
        session, actor, f"办结 ({'属实' if upheld else '不属实'}): {answer}"
    )
    order = orders.get_order(session, order_id=row.order_id)
    elder = session.get(Elder, order.elder_id)
    to = _reply_number(elder)
    if to is not None:
        message = notifications.send_sms(
            session,
            to=to,
            template="notice",
            params={
                "text": f"【12349养老服务热线】您对工单 {order.order_no} 的投诉已办结: {answer}"
            },
            actor=actor,
            ref_type="complaint",
            ref_id=row.id,
            region_code=row.region_code,
        )
        row.reply_message_id = message.id
    session.flush()
    _audit(session, actor, row, "close", upheld=upheld, replied_by_sms=to is not None)
    return row


def _reply_number(elder: Elder | None) -> str | None:
    if elder is None:
        return None
    for phone in elder.phones:
        number = notifications.mobile_or_none(phone.number)
        if number:
            return number
    for contact in sorted(elder.contacts, key=lambda c: (c.priority, c.id)):
        number = notifications.mobile_or_none(contact.phone)
        if number:
            return number
    return None
