"""RQ entry points of government-purchased services: plain values in, their own unit of work."""

from __future__ import annotations

from datetime import date
from typing import Any

from platform_core import clock
from platform_core.actors import system_actor
from platform_core.gov_purchase import service
from platform_core.runtime import current_runtime


def reconcile_allowances(month: str | None = None) -> dict[str, Any]:
    """Nightly: this month's (or ``month``'s, YYYY-MM-DD) allowances in line with the orders
    that were opened or cancelled without drawing or giving back. Safe to run any number of
    times: a second run finds nothing to do."""
    rt = current_runtime()
    actor = system_actor("系统(服务补贴对账)", region_code=rt.settings.home_region_code)
    with rt.session() as s:
        return service.reconcile_allowances(
            s,
            actor=actor,
            month=date.fromisoformat(month) if month else clock.today(rt.settings.timezone),
        )
