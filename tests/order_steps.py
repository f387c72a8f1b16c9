"""Order steps the tests take as the elder and as the clock would (no tests here).

A check-out must come the service type's minimum after the check-in, and a confirmation needs
the elder's evidence: tests that drive orders along their life use these instead of skipping
either rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from platform_core.actors import Actor
from platform_core.orders import confirmation
from platform_core.orders.models import OrderTransition, ServiceOrder


def time_at_home(s, order_id: int, minutes: float = 30) -> None:
    """The staff member has been at the home ``minutes`` already: the order's whole history so
    far (its times, deadlines and logged steps) moves back, as if the check-out came later."""
    shift = timedelta(minutes=minutes)
    order = s.get(ServiceOrder, order_id)
    for column in ServiceOrder.__table__.columns:
        value = getattr(order, column.key, None)
        if isinstance(value, datetime):
            setattr(order, column.key, value - shift)
    for step in s.scalars(select(OrderTransition).where(OrderTransition.order_id == order_id)):
        step.at -= shift
    s.flush()


def confirm_by_elder(s, *, actor: Actor, order_id: int) -> ServiceOrder:
    """The elder reads out the SMS code (a fresh one, as a resend would give) and it is entered."""
    code = confirmation.issue_code(s, order_id=order_id)
    return confirmation.confirm_with_code(s, actor=actor, order_id=order_id, code=code)
