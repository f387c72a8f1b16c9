"""RQ entry points of dispatch. They take ids, open their own unit of work and are idempotent:
a job delivered twice, or run again after its worker died, finds the order dispatched and stops."""

from __future__ import annotations

import logging

from platform_core.dispatch import service
from platform_core.runtime import current_runtime

log = logging.getLogger(__name__)


def dispatch_order(order_id: int, seq: int, attempt: int = 0) -> str:
    """Dispatch the order handed over by step ``seq``; retried later when nobody can take it."""
    with current_runtime().session() as s:
        outcome = service.dispatch_order(s, order_id=order_id, attempt=attempt)
        if outcome.result == "no_provider":
            at = service.schedule_retry(s, order_id=order_id, seq=seq, attempt=attempt + 1)
            log.warning(
                "工单 %s 暂无可派服务商, %s 重试 / no provider for order %s, retry at %s",
                order_id,
                at.isoformat(),
                order_id,
                at.isoformat(),
            )
    return outcome.result


def acceptance_window_elapsed(order_id: int, dispatch_seq: int) -> bool:
    """The acceptance window of dispatch step ``dispatch_seq`` ran out."""
    with current_runtime().session() as s:
        return service.expire_acceptance(s, order_id=order_id, dispatch_seq=dispatch_seq)
