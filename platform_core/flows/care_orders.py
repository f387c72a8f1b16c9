"""Service orders as the care modules see them: opened and cancelled together with what pays
for them and what they carry.

- A government-purchase allowance is drawn when an order is opened and given back when it is
  cancelled (``gov_purchase.service.charge_for_order`` says how much and why then).
- A meal delivery order is cancelled through its booking, so the booking never stays live for
  a delivery nobody makes (``meal_aid.service`` keeps the two in step).
- Hours a time-bank member redeemed for the order come back when it is cancelled.

The console, the IVR and jobs that open orders for an elder call :func:`open_care_order` (the
agent's order from a call, one per call and service: :func:`open_call_order`; from an online
conversation, one per conversation and service: :func:`open_chat_order`) and
:func:`cancel_care_order` instead
of the orders service; the orders a path opened or cancelled
without them are put right by ``gov_purchase.service.reconcile_allowances`` (a nightly job,
``platform_core.gov_purchase.jobs:reconcile_allowances``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.chats import service as chats
from platform_core.gov_purchase import service as gov_purchase
from platform_core.gov_purchase.models import AllowanceCharge
from platform_core.meal_aid import service as meal_aid
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.time_bank import service as time_bank


def open_care_order(session: Session, **opening: Unpack[orders.OrderOpening]) -> ServiceOrder:
    """Open an order (as ``orders.service.open_order``, at a service site when ``site_id``
    names one) and let it draw on the elder's government-purchase allowance; the agent sees
    what it drew in the elder's care status."""
    order = orders.open_order(session, **opening)
    gov_purchase.charge_for_order(session, actor=opening["actor"], order_id=order.id)
    return order


@dataclass(frozen=True)
class CallOrder:
    """The call's order of a service: ``already_open`` when the call had it before this opening
    (the agent opened it a moment ago), so nothing was opened or drawn now."""

    order: ServiceOrder
    already_open: bool


def open_call_order(
    session: Session,
    *,
    actor: Actor,
    elder_id: int,
    service_type_code: str,
    urgency: str = "normal",
    notes: str = "",
    address: str | None = None,
    linkedid: str | None = None,
    site_id: int | None = None,
) -> CallOrder:
    """An order an agent opens from a call: opened with what it draws on the elder's allowance
    (:func:`open_care_order`) and handed to dispatch in the same unit of work, so the dispatch
    job starts once it commits. The call's id is the order's source reference.

    A call has one order per service: opening a service the call already has (a second click,
    a colleague on the same call) returns that order; the draft the caller's choice in the IVR's
    menu left becomes the agent's order (confirmed, drawing on the allowance, handed to
    dispatch), unless the agent asks for other terms (urgency, address, site), which are priced
    anew: then the draft is cancelled and a new order opened."""
    if linkedid:
        orders.serialize_call_openings(session, call_ref=linkedid)
        existing = orders.find_call_order(
            session, elder_id=elder_id, service_type_code=service_type_code, call_ref=linkedid
        )
        if existing is not None and not orders.is_draft(existing):
            return CallOrder(existing, already_open=True)
        if existing is not None:
            if orders.same_terms(existing, urgency=urgency, address=address, site_id=site_id):
                orders.confirm_draft(session, actor=actor, order_id=existing.id, notes=notes)
                gov_purchase.charge_for_order(session, actor=actor, order_id=existing.id)
                return CallOrder(_hand_to_dispatch(session, actor, existing.id), False)
            cancel_care_order(
                session,
                actor=actor,
                order_id=existing.id,
                reason="坐席按来电另行建单 (紧急程度或地址不同), 语音菜单草稿作废",
            )
    order = open_care_order(
        session,
        actor=actor,
        elder_id=elder_id,
        service_type_code=service_type_code,
        source="call",
        urgency=urgency,
        notes=notes,
        address=address,
        source_ref=linkedid,
        site_id=site_id,
    )
    return CallOrder(_hand_to_dispatch(session, actor, order.id), already_open=False)


def _hand_to_dispatch(session: Session, actor: Actor, order_id: int) -> ServiceOrder:
    return orders.submit_for_dispatch(session, actor=actor, order_id=order_id, reason="来电建单")


def open_chat_order(
    session: Session,
    *,
    actor: Actor,
    chat_id: int,
    service_type_code: str,
    urgency: str = "normal",
    notes: str = "",
    address: str | None = None,
    site_id: int | None = None,
) -> CallOrder:
    """An order the agent answering an online conversation opens for its elder, as from a call:
    one per conversation and service (a second opening names the first), drawing on the elder's
    allowance and handed to dispatch in the same unit of work; its source is the online channel
    and the conversation its reference. Only the conversation's agent may."""
    chat = chats.require_handler(session, actor=actor, chat_id=chat_id, action="chat.open_order")
    ref = f"chat-{chat.id}"
    orders.serialize_call_openings(session, call_ref=ref)
    existing = orders.find_call_order(
        session, elder_id=chat.elder_id, service_type_code=service_type_code, call_ref=ref
    )
    if existing is not None:
        return CallOrder(existing, already_open=True)
    order = open_care_order(
        session,
        actor=actor,
        elder_id=chat.elder_id,
        service_type_code=service_type_code,
        source="online",
        urgency=urgency,
        notes=notes,
        address=address,
        source_ref=ref,
        site_id=site_id,
    )
    dispatched = orders.submit_for_dispatch(
        session, actor=actor, order_id=order.id, reason="在线受理建单"
    )
    return CallOrder(dispatched, already_open=False)


def cancel_care_order(
    session: Session, *, actor: Actor, order_id: int, reason: str, now: datetime | None = None
) -> ServiceOrder:
    """Cancel an order and give back what it drew; a meal delivery is cancelled by cancelling
    its booking (the booking's own cut-off applies, and the order follows it)."""
    booking = meal_aid.find_booking_for_order(session, order_id=order_id)
    if booking is not None and booking.status == "booked":
        meal_aid.cancel_booking(session, actor=actor, booking_id=booking.id, reason=reason, now=now)
        return orders.get_order(session, order_id=order_id)
    order = orders.cancel(session, actor=actor, order_id=order_id, reason=reason)
    gov_purchase.release_allowance(session, actor=actor, order_id=order.id)
    # hours a time-bank member redeemed for this service come back to them
    redeemed = time_bank.find_by_ref(
        session, kind="redeem", ref_type="service_order", ref_id=str(order.id)
    )
    if redeemed is not None:
        time_bank.refund(
            session, actor=actor, transaction_id=redeemed.id, memo=f"工单{order.order_no}取消"
        )
    return order


def order_allowance(session: Session, *, order_id: int) -> Decimal:
    """What the order currently draws from a government-purchase allowance (0 when nothing)."""
    amount = session.scalar(
        select(AllowanceCharge.amount).where(
            AllowanceCharge.order_id == order_id, AllowanceCharge.released_at.is_(None)
        )
    )
    return Decimal("0.00") if amount is None else amount
