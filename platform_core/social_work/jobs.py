"""RQ entry points of social work: they take plain values and open their own session."""

from __future__ import annotations

from platform_core.runtime import current_runtime
from platform_core.social_work import service


def announce_overdue_visits(region_code: str) -> int:
    """The daily check of the visits past due (a ``SocialVisitOverdue`` per case)."""
    with current_runtime().session() as s:
        return service.announce_overdue(s, region_code=region_code)
