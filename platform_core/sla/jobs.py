"""RQ entry point of SLA timers: takes the order id and the kind, reads the order when it fires."""

from __future__ import annotations

from platform_core.runtime import current_runtime
from platform_core.sla import service


def sla_due(order_id: int, kind: str) -> str:
    with current_runtime().session() as s:
        return service.check_deadline(s, order_id=order_id, kind=kind).result
