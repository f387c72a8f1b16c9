"""Who is told what when an order takes a step (run as a job after the step commits).

The provider hears of a new order on its contact mobile; the staff member who goes gets the
address and the elder's phone; the family hears that the order was taken, that staff arrived
and that the work is done (which of these: ``sms_family_events``); at check-in the elder's
confirmation code goes out. Each message is keyed by the order and the step, so running the job
twice sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.catalogue import service as catalogue
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, DomainError
from platform_core.notifications.models import OutboxMessage
from platform_core.notifications.service import mobile_or_none, send_sms
from platform_core.orders import confirmation
from platform_core.orders import service as orders
from platform_core.orders.followups import accept_window_minutes
from platform_core.orders.models import URGENCY_LABELS, OrderTransition, ServiceOrder, Urgency
from platform_core.orders.states import Command, OrderStatus
from platform_core.providers.models import Provider, ProviderStaff
from platform_core.runtime import settings_of

# order step -> the family event it is
FAMILY_EVENTS = {
    "accept": "accepted",
    "check_in": "checked_in",
    "check_out": "completed",
    "complete": "completed",
}
FAMILY_TEMPLATES = {
    "accepted": "order_accepted_family",
    "checked_in": "order_checked_in_family",
    "completed": "order_completed_family",
}


def notifier(region_code: str) -> Actor:
    return Actor(kind="system", name="短信通知", region_code=region_code)


def _local_time(session: Session, at: datetime) -> str:
    return at.astimezone(ZoneInfo(settings_of(session).timezone)).strftime("%m月%d日%H:%M")


def family_mobile(elder: Elder) -> tuple[str, str] | None:
    """The first emergency contact (by priority) who has a mobile: (number, name)."""
    for contact in sorted(elder.contacts, key=lambda c: (c.priority, c.id)):
        number = mobile_or_none(contact.phone)
        if number:
            return number, contact.name
    return None


def elder_mobile(elder: Elder) -> str | None:
    for phone in elder.phones:
        number = mobile_or_none(phone.number)
        if number:
            return number
    return None


def notify_order_step(session: Session, *, order_id: int, seq: int) -> list[OutboxMessage]:
    step = session.scalar(
        select(OrderTransition).where(
            OrderTransition.order_id == order_id, OrderTransition.seq == seq
        )
    )
    order = session.get(ServiceOrder, order_id)
    if step is None or order is None:
        return []
    elder = session.get(Elder, order.elder_id)
    if elder is None:
        return []
    service_name = catalogue.get_service_type(session, code=order.service_type_code).name
    actor = notifier(order.region_code)
    ref = f"{order.id}:{seq}"
    sent: list[OutboxMessage] = []

    def send(to: str | None, template: str, params: dict[str, object], name: str = "") -> None:
        if not to:
            return
        try:
            sent.append(
                send_sms(
                    session,
                    to=to,
                    template=template,
                    params=params,
                    actor=actor,
                    ref_type="order_step",
                    ref_id=ref,
                    region_code=order.region_code,
                    to_name=name,
                )
            )
        except DomainError:
            # one bad number must not stop the other messages of this step
            session.info.setdefault("sms_skipped", []).append((template, to))

    command = step.command
    if command == "dispatch_to":
        provider = session.get(Provider, step.detail.get("provider_id"))
        if provider is not None:
            minutes = accept_window_minutes(
                settings_of(session),
                service_type_code=order.service_type_code,
                urgency=order.urgency,
            )
            send(
                mobile_or_none(provider.contact_phone),
                "order_dispatched_provider",
                {
                    "order_no": order.order_no,
                    "service": service_name,
                    "urgency": URGENCY_LABELS.get(Urgency(order.urgency), order.urgency),
                    "address": order.address or elder.address,
                    "accept_minutes": f"{minutes:g}",
                },
                provider.contact_name,
            )
    staff_id = step.detail.get("staff_id")
    if command in ("accept", "assign_staff", "start_travel") and staff_id:
        staff = session.get(ProviderStaff, staff_id)
        # once per order and staff member, whichever step named them
        if staff is not None and not _staff_told(session, order.id, staff.phone):
            send(
                staff.phone,
                "staff_assigned",
                {
                    "staff_name": staff.name,
                    "order_no": order.order_no,
                    "service": service_name,
                    "elder_name": elder.name,
                    "address": order.address or elder.address,
                    "elder_phone": elder_mobile(elder)
                    or (elder.phones[0].number if elder.phones else "无"),
                },
                staff.name,
            )
    if command == "cancel" and step.detail.get("provider_id"):
        provider = session.get(Provider, step.detail["provider_id"])
        if provider is not None:
            send(
                mobile_or_none(provider.contact_phone),
                "order_cancelled_provider",
                {"order_no": order.order_no, "reason": step.reason or "热线取消"},
                provider.contact_name,
            )
    event = FAMILY_EVENTS.get(command)
    wanted = {e.strip() for e in settings_of(session).sms_family_events.split(",") if e.strip()}
    family = family_mobile(elder)
    if event in wanted and family is not None:
        staff = session.get(ProviderStaff, order.staff_id) if order.staff_id else None
        provider = session.get(Provider, order.provider_id) if order.provider_id else None
        send(
            family[0],
            FAMILY_TEMPLATES[event],
            {
                "elder_name": elder.name,
                "service": service_name,
                "provider_name": provider.name if provider else "服务商",
                "staff_name": staff.name if staff else "服务人员",
                "time": _local_time(session, step.at),
            },
            family[1],
        )
    if command == "check_in":
        to = elder_mobile(elder) or (family[0] if family else None)
        if to is not None and not _sent_before(session, ref, "confirmation_code"):
            code = confirmation.issue_code(session, order_id=order.id, sent_to=to)
            send(to, "confirmation_code", {"code": code})
    return sent


def _staff_told(session: Session, order_id: int, phone: str) -> bool:
    return (
        session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.ref_type == "order_step",
                OutboxMessage.ref_id.like(f"{order_id}:%"),
                OutboxMessage.template == "staff_assigned",
                OutboxMessage.to_number == phone,
            )
        )
        is not None
    )


def _sent_before(session: Session, ref: str, template: str) -> bool:
    return (
        session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.ref_type == "order_step",
                OutboxMessage.ref_id == ref,
                OutboxMessage.template == template,
            )
        )
        is not None
    )


def resend_confirmation_code(session: Session, *, actor: Actor, order_id: int) -> OutboxMessage:
    """A new code for an order in service (the first one lost or expired), sent the same way."""
    order = orders.get_order(session, order_id=order_id)
    orders._authorize(
        session, actor=actor, command=Command.CONFIRM, region_code=order.region_code, order=order
    )
    if order.status != OrderStatus.IN_SERVICE and order.status != OrderStatus.COMPLETED:
        raise Conflict(
            "只有服务中或已完成待确认的工单可以发送确认码 / codes go out only for orders in service",
            code="illegal_transition",
        )
    elder = session.get(Elder, order.elder_id)
    assert elder is not None
    family = family_mobile(elder)
    to = elder_mobile(elder) or (family[0] if family else None)
    if to is None:
        raise Conflict(
            "老人和家属都没有手机号, 请让老人签名确认 / no mobile to send to: ask for a signature",
            code="no_mobile_for_code",
        )
    code = confirmation.issue_code(session, order_id=order.id, sent_to=to)
    return send_sms(
        session,
        to=to,
        template="confirmation_code",
        params={"code": code},
        actor=actor,
        ref_type="confirmation_code",
        ref_id=f"{order.id}:{utcnow():%Y%m%d%H%M%S%f}",
        region_code=order.region_code,
    )
