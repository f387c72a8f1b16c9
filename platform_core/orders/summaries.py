"""A service order as the hotline's screens show it: one shape for the screen pop's list, the
order just opened from a call, the agent's own orders, the wallboard's latest moves, and each
step that moves an order afterwards (from its event)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from platform_core.catalogue.service import service_type_name
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import ELDER_OPEN_STATUSES, STATUS_LABELS
from platform_core.regions.service import within

_OPEN = frozenset(str(s.value) for s in ELDER_OPEN_STATUSES)


def _plain(value: Any) -> str:
    return str(getattr(value, "value", value))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def order_summary(order: ServiceOrder) -> dict[str, Any]:
    status = _plain(order.status)
    return {
        "id": order.id,
        "order_no": order.order_no,
        "elder_id": order.elder_id,
        "service_type_code": order.service_type_code,
        "service_type_name": service_type_name(object_session(order), order.service_type_code),
        "urgency": _plain(order.urgency),
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "open": status in _OPEN,
        "opened_at": _iso(order.opened_at),
        "updated_at": _iso(order.updated_at),
        "opened_by_user_id": order.opened_by_user_id,
        # an IVR draft names the call it was keyed on: the call's order form starts from it
        "source": _plain(order.source),
        "source_ref": order.source_ref,
    }


def order_change(
    session: Session, data: dict[str, Any], *, at: str | None = None
) -> dict[str, Any]:
    """An order event's data (published ``at``) in the shape of :func:`order_summary`: what a
    screen updates."""
    status = str(data["status"])
    return {
        "id": data["order_id"],
        "order_no": data["order_no"],
        "elder_id": data["elder_id"],
        "service_type_code": data["service_type_code"],
        "service_type_name": service_type_name(session, data["service_type_code"]),
        "urgency": data["urgency"],
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "open": status in _OPEN,
        "updated_at": at,
        "opened_by_user_id": data.get("opened_by_user_id"),
    }


def open_order_summaries(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    """The elder's orders still under way (emergencies first), as the screen pop lists them."""
    return [order_summary(o) for o in orders.open_orders_for_elder(session, elder_id=elder_id)]


def orders_opened_by(session: Session, *, user_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The orders an agent opened, the latest first (the agent's screen follows their steps)."""
    rows = session.scalars(
        select(ServiceOrder)
        .where(ServiceOrder.opened_by_user_id == user_id)
        .order_by(ServiceOrder.opened_at.desc())
        .limit(limit)
    )
    return [order_summary(o) for o in rows]


def latest_moves(session: Session, *, region_code: str, limit: int = 10) -> list[dict[str, Any]]:
    """The region's orders that moved last, the latest first (the wallboard's order list)."""
    rows = session.scalars(
        select(ServiceOrder)
        .where(within(ServiceOrder.region_code, region_code))
        .order_by(ServiceOrder.updated_at.desc())
        .limit(limit)
    )
    return [order_summary(o) for o in rows]
