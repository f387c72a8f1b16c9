"""RQ entry points of family care beds: each takes plain values and opens its own units of work."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select

from platform_core import clock
from platform_core.actors import system_actor
from platform_core.care_beds import service
from platform_core.care_beds.models import CareBed
from platform_core.errors import DomainError
from platform_core.runtime import current_runtime

log = logging.getLogger(__name__)


def open_month_orders_for_all(month: str | None = None) -> int:
    """Open the planned services of every bed in service for ``month`` (YYYY-MM-DD, any day of
    it; default this month), one bed per unit of work; returns how many orders were opened.
    Idempotent: a bed's services already opened are skipped, so it may run every day."""
    rt = current_runtime()
    day = date.fromisoformat(month) if month else clock.today(rt.settings.timezone)
    with rt.session() as s:
        beds = list(s.scalars(select(CareBed.id).where(CareBed.status == "in_service")))
    actor = system_actor("系统(家庭养老床位月度服务)", region_code=rt.settings.home_region_code)
    opened = 0
    for bed_id in beds:
        try:
            with rt.session() as s:
                opened += len(
                    service.open_month_orders(s, actor=actor, care_bed_id=bed_id, month=day)
                )
        except DomainError as exc:
            log.warning(
                "床位 %s 的月度服务未开立 / bed %s: monthly orders not opened: %s",
                bed_id,
                bed_id,
                exc.message,
            )
    return opened
