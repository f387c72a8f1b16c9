"""RQ entry point of an order's text messages: tell people about a step. It takes ids and is
idempotent."""

from __future__ import annotations

from platform_core.orders import messages
from platform_core.runtime import current_runtime


def notify_order_step(order_id: int, seq: int) -> int:
    with current_runtime().session() as s:
        return len(messages.notify_order_step(s, order_id=order_id, seq=seq))
