"""What a provider sees of its orders (the portal on a staff member's phone).

A provider sees only orders dispatched to it, with what its staff need at the door: the elder's
name, address and phone. Opening an order is a view of personal data and is audited; asking for
another provider's order is refused and audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.catalogue import service as catalogue
from platform_core.elders.models import Elder
from platform_core.errors import PermissionDenied
from platform_core.orders import confirmation, followups, photos
from platform_core.orders import service as orders
from platform_core.orders.models import URGENCY_LABELS, ServiceOrder, Urgency
from platform_core.orders.states import COMMAND_LABELS, STATUS_LABELS, OrderStatus
from platform_core.providers import service as providers

# The inbox's tabs: which statuses each shows.
VIEWS: dict[str, tuple[str, ...]] = {
    "new": (OrderStatus.DISPATCHED,),
    "active": (OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE, OrderStatus.IN_SERVICE),
    "confirm": (OrderStatus.COMPLETED,),
    "done": (
        OrderStatus.CONFIRMED,
        OrderStatus.RATED,
        OrderStatus.RETURN_VISITED,
        OrderStatus.SETTLED,
        OrderStatus.CLOSED,
    ),
}
VIEW_LABELS = {"new": "待接单", "active": "进行中", "confirm": "待确认", "done": "已完成"}


def views_for(actor: Actor) -> dict[str, str]:
    """The inbox's tabs for this login: a practitioner has no orders waiting to be taken (their
    provider takes them and sends them)."""
    if providers.is_practitioner(actor):
        return {k: v for k, v in VIEW_LABELS.items() if k != "new"}
    return dict(VIEW_LABELS)


# Commands the portal offers (the rest belong to the hotline).
PORTAL_COMMANDS = (
    "accept",
    "reject",
    "assign_staff",
    "start_travel",
    "check_in",
    "check_out",
    "complete",
    "confirm",
)


def _own(session: Session, actor: Actor, order_id: int, action: str) -> ServiceOrder:
    order = orders.get_order(session, order_id=order_id)
    if (
        actor.provider_id is None
        or order.provider_id != actor.provider_id
        or (actor.staff_id is not None and order.staff_id != actor.staff_id)
    ):
        orders.refuse_on_order(
            session, actor=actor, action=action, order_id=order_id, reason="not_your_order"
        )
        raise PermissionDenied(
            "服务商只能查看派给本机构的工单 / a provider sees only its own orders",
            code="not_your_order",
        )
    return order


def _card(session: Session, order: ServiceOrder, elder: Elder | None) -> dict[str, Any]:
    st = catalogue.get_service_type(session, code=order.service_type_code)
    return {
        "id": order.id,
        "order_no": order.order_no,
        "status": order.status,
        "status_label": STATUS_LABELS.get(order.status, order.status),
        "service": st.name,
        "service_type_code": st.code,
        "urgency": order.urgency,
        "urgency_label": URGENCY_LABELS.get(Urgency(order.urgency), order.urgency),
        "address": order.address,
        "elder_name": elder.name if elder else "",
        "requested_at": order.requested_at.isoformat() if order.requested_at else None,
        "response_due_at": order.response_due_at.isoformat(),
        "arrival_due_at": order.arrival_due_at.isoformat() if order.arrival_due_at else None,
        "dispatched_at": order.dispatched_at.isoformat() if order.dispatched_at else None,
        # accept before this, or dispatch offers the order to the next provider
        "accept_by": (
            (order.dispatched_at + followups.acceptance_window(session, order)).isoformat()
            if order.status == OrderStatus.DISPATCHED and order.dispatched_at
            else None
        ),
    }


def provider_orders(session: Session, *, actor: Actor, view: str = "new") -> list[dict[str, Any]]:
    """The provider's orders for one inbox tab, most urgent and oldest first."""
    if actor.provider_id is None:
        raise PermissionDenied("不是服务商账号 / not a provider account", code="not_a_provider")
    statuses = VIEWS.get(view, VIEWS["new"])
    rows = orders.list_orders(
        session,
        provider_id=actor.provider_id,
        staff_id=actor.staff_id,
        status=list(statuses),
        limit=200,
    )
    rank = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.NORMAL: 2}
    if view != "done":
        rows.sort(key=lambda o: (rank.get(Urgency(o.urgency), 3), o.opened_at))
    elders = {e.id: e for e in (session.get(Elder, o.elder_id) for o in rows) if e is not None}
    return [_card(session, o, elders.get(o.elder_id)) for o in rows]


def inbox_counts(session: Session, *, actor: Actor) -> dict[str, int]:
    if actor.provider_id is None:
        return {v: 0 for v in VIEWS}
    return {
        v: len(
            orders.list_orders(
                session,
                provider_id=actor.provider_id,
                staff_id=actor.staff_id,
                status=list(s),
                limit=500,
            )
        )
        for v, s in VIEWS.items()
    }


def provider_order_detail(session: Session, *, actor: Actor, order_id: int) -> dict[str, Any]:
    """One of the provider's orders with the elder's contact details (the view is audited)."""
    order = _own(session, actor, order_id, "provider.view_order")
    elder = session.get(Elder, order.elder_id)
    out = _card(session, order, elder)
    mobiles = [p.number for p in (elder.phones if elder else [])]
    out.update(
        {
            "notes": order.notes,
            "elder_phone": mobiles[0] if mobiles else "",
            "latitude": order.latitude,
            "longitude": order.longitude,
            "staff_id": order.staff_id,
            "completion_report": order.completion_report,
            "next": [
                c
                for c in orders.next_commands(session, order=order)
                if c in (orders.STAFF_COMMANDS if actor.staff_id is not None else PORTAL_COMMANDS)
            ],
            # who may be sent: the provider's choice, not the practitioner's
            "staff": []
            if actor.staff_id is not None
            else [
                {"id": s.id, "name": s.name}
                for s in providers.list_staff(
                    session, provider_id=order.provider_id or 0, skill=order.service_type_code
                )
            ],
            "history": [
                {
                    "at": t.at.isoformat(),
                    "command": t.command,
                    "label": COMMAND_LABELS.get(t.command, t.command),
                    "status_label": STATUS_LABELS.get(t.to_status, t.to_status),
                    "by": t.actor_name,
                    "reason": t.reason,
                }
                for t in orders.order_history(session, order_id=order.id)
            ],
            "photos": [
                {"id": p.id, "kind": p.kind, "label": photos.KINDS.get(p.kind, p.kind)}
                for p in photos.list_photos(session, order_id=order.id)
            ],
            "confirmation_code": confirmation.code_status(session, order_id=order.id),
        }
    )
    audit.record(
        session,
        actor=actor,
        action="provider.view_order",
        target_type="service_order",
        target_id=order.id,
        detail={"elder_id": order.elder_id},
    )
    return out
