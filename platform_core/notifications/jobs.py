"""RQ entry points of text messages: deliver an attempt, poll a status. They take ids and are
idempotent."""

from __future__ import annotations

from platform_core.notifications import service
from platform_core.runtime import current_runtime


def deliver_sms(message_id: int, attempt: int) -> str:
    with current_runtime().session() as s:
        return service.deliver(s, message_id=message_id, attempt=attempt)


def poll_sms_status(message_id: int, n: int) -> str:
    with current_runtime().session() as s:
        return service.poll_status(s, message_id=message_id, n=n)
