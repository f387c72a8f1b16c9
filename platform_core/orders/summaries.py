"""A service order as the hotline's screens show it: one shape for the screen pop's list, the
order just opened from a call, and each step that moves it afterwards (from its event)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, object_session

from platform_core.catalogue.service import service_type_name
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import ELDER_OPEN_STATUSES, STATUS_LABELS

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
        # an IVR draft names the call it was keyed on: the call's order form starts from it
        "source": _plain(order.source),
        "source_ref": order.source_ref,
    }


def order_change(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """An order event's data in the shape of :func:`order_summary` (what a screen updates)."""
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
    }


def open_order_summaries(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    """The elder's orders still under way (emergencies first), as the screen pop lists them."""
    return [order_summary(o) for o in orders.open_orders_for_elder(session, elder_id=elder_id)]
