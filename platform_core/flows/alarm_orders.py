"""An alarm and its emergency order: the provider's own steps go on the alarm's ladder.

The provider's check-in is someone on site (nobody records it by hand without saying who
confirmed it); its acceptance ends the decision the alarm was waiting for; a refusal, or an
acceptance window that ran out, asks a person at once with the choices to make. Runs as an RQ
job after the order's step commits (idempotent: a repeated job records nothing twice).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.alarms import service as alarms
from platform_core.orders.models import OrderTransition, ServiceOrder
from platform_core.runtime import current_runtime

ALARM_REF = "alarm:"


def follow(session: Session, *, order_id: int, seq: int) -> str:
    """Put step ``seq`` of an alarm's emergency order on the alarm; returns what it did."""
    order = session.get(ServiceOrder, order_id)
    if order is None or not (order.source_ref or "").startswith(ALARM_REF):
        return "not_an_alarm"
    step = session.scalar(
        select(OrderTransition).where(
            OrderTransition.order_id == order_id, OrderTransition.seq == seq
        )
    )
    if step is None:
        return "no_step"
    return alarms.follow_order_step(
        session,
        alarm_id=int((order.source_ref or "").removeprefix(ALARM_REF)),
        command=step.command,
        by=step.actor_name,
        at=step.at,
        order_no=order.order_no,
        order_seq=seq,
        reason=step.reason,
    )


def order_step_reached_alarm(order_id: int, seq: int) -> str:
    """RQ entry point: ids only, its own unit of work."""
    with current_runtime().session() as s:
        return follow(s, order_id=order_id, seq=seq)
