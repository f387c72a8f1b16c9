"""RQ entry point: seal the audit trail every minute (idempotent; a re-run seals nothing new)."""

from __future__ import annotations

from datetime import timedelta

from platform_core.audit import service
from platform_core.db import utcnow
from platform_core.runtime import current_runtime

SEAL_EVERY = timedelta(minutes=1)


def seal_audit_trail(reschedule: bool = True) -> int:
    rt = current_runtime()
    with rt.session() as s:
        sealed = service.seal_pending(s)
    if reschedule:
        at = utcnow() + SEAL_EVERY
        # one scheduled run per minute, whoever enqueues it
        rt.jobs.enqueue(
            "platform_core.audit.jobs:seal_audit_trail",
            True,
            at=at,
            job_id=f"audit-seal-{at:%Y%m%d%H%M}",
        )
    return sealed
