"""Past-tense events of service orders, one per transition, all of one shape.

Consumers (the console, SLA timers, notifications) route on ``type`` and ``region_code`` and
read ``status`` for where the order now stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class OrderEvent(DomainEvent):
    order_id: int
    order_no: str
    region_code: str
    elder_id: int
    service_type_code: str
    urgency: str
    status: str
    from_status: str | None
    provider_id: int | None
    staff_id: int | None
    actor: str
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    # the step's number in the order's transition log (jobs that follow it are keyed by it)
    seq: int = 0
    # the account that opened the order: its screen follows the order's steps
    opened_by_user_id: int | None = None


class OrderOpened(OrderEvent): ...


class OrderSubmittedForDispatch(OrderEvent): ...


class OrderDispatched(OrderEvent): ...


class OrderAccepted(OrderEvent): ...


class OrderRejected(OrderEvent): ...


class StaffAssigned(OrderEvent): ...


class TravelStarted(OrderEvent): ...


class OrderCheckedIn(OrderEvent): ...


class OrderCheckedOut(OrderEvent): ...


class OrderCompleted(OrderEvent): ...


class OrderConfirmed(OrderEvent): ...


class OrderRated(OrderEvent): ...


class ReturnVisitRecorded(OrderEvent): ...


class OrderSettled(OrderEvent): ...


class OrderClosed(OrderEvent): ...


class OrderCancelled(OrderEvent): ...


class OrderEscalated(OrderEvent): ...


class ComplaintFiled(OrderEvent): ...


# command -> the event it publishes
EVENT_OF: dict[str, type[OrderEvent]] = {
    "open_order": OrderOpened,
    "submit_for_dispatch": OrderSubmittedForDispatch,
    "dispatch_to": OrderDispatched,
    "accept": OrderAccepted,
    "reject": OrderRejected,
    "assign_staff": StaffAssigned,
    "start_travel": TravelStarted,
    "check_in": OrderCheckedIn,
    "check_out": OrderCheckedOut,
    "complete": OrderCompleted,
    "confirm": OrderConfirmed,
    "rate": OrderRated,
    "record_return_visit": ReturnVisitRecorded,
    "settle": OrderSettled,
    "close": OrderClosed,
    "cancel": OrderCancelled,
    "escalate": OrderEscalated,
    "file_complaint": ComplaintFiled,
}

# The type names of every order event (one per lifecycle step), as the event bus carries them.
ORDER_EVENT_TYPES: tuple[str, ...] = tuple(sorted({cls.__name__ for cls in EVENT_OF.values()}))
