"""The platform's recurring jobs, in one table.

Each run is an ordinary job with an id made of its name and its due minute, so any number of
processes may schedule the same run (a worker starting, the demo, the run before it) and it still
runs once. A run schedules the next one before doing its work, so a failing job keeps its rhythm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from platform_core.db import utcnow
from platform_core.jobs import resolve
from platform_core.runtime import Runtime, current_runtime

log = logging.getLogger(__name__)

NextRun = Callable[[datetime, ZoneInfo], datetime]


def every(minutes: int) -> NextRun:
    def nxt(now: datetime, tz: ZoneInfo) -> datetime:
        step = minutes * 60
        return datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, tz)

    return nxt


def daily(at: time) -> NextRun:
    def nxt(now: datetime, tz: ZoneInfo) -> datetime:
        local = now.astimezone(tz)
        due = datetime.combine(local.date(), at, tzinfo=tz)
        return (
            due
            if due > local
            else datetime.combine(local.date() + timedelta(days=1), at, tzinfo=tz)
        )

    return nxt


@dataclass(frozen=True)
class Periodic:
    name: str
    func_path: str
    next_run: NextRun
    args: Callable[[Runtime], tuple[Any, ...]] = lambda _rt: ()
    what: str = ""


PERIODIC: tuple[Periodic, ...] = (
    Periodic(
        "alarm-timers",
        "platform_core.alarms.jobs:fire_due_timers",
        every(1),
        what="告警计时补发 (告警接入停止时) / alarm timers due, should no intake be sweeping",
    ),
    Periodic(
        "audit-seal",
        "platform_core.audit.jobs:seal_audit_trail",
        every(1),
        lambda _rt: (False,),
        "审计日志封链 / seal the audit trail",
    ),
    Periodic(
        "audit-retention",
        "platform_core.flows.audit_review:purge_expired_audit",
        daily(time(3, 15)),
        what="审计与安全日志保留期清理 (至少六个月) / audit and security log retention",
    ),
    Periodic(
        "device-heartbeat-history",
        "platform_core.devices.jobs:prune_heartbeat_history",
        daily(time(3, 40)),
        what="设备心跳与电量历史清理 / heartbeat and battery history past its keeping",
    ),
    Periodic(
        "care-bed-month-orders",
        "platform_core.care_beds.jobs:open_month_orders_for_all",
        daily(time(6, 0)),
        what="家庭养老床位月度服务开单 / open the care beds' monthly service orders",
    ),
    Periodic(
        "allowance-reconcile",
        "platform_core.gov_purchase.jobs:reconcile_allowances",
        daily(time(1, 30)),
        what="服务补贴对账 / reconcile government-purchase allowances",
    ),
    Periodic(
        "care-budget-warnings",
        "platform_core.flows.care_money:warn_budgets",
        daily(time(7, 0)),
        what="养老项目预算预警 / care budgets past their warning share",
    ),
    Periodic(
        "social-work-overdue-visits",
        "platform_core.social_work.jobs:announce_overdue_visits",
        daily(time(8, 30)),
        lambda rt: (rt.settings.home_region_code,),
        "社工探访逾期提醒 / social-work visits past due",
    ),
    Periodic(
        "reassessment-reminders",
        "platform_core.assessment.jobs:remind_due_reassessments",
        daily(time(8, 0)),
        lambda rt: (rt.settings.home_region_code, None, False),
        "复评提醒 / re-assessment reminders",
    ),
)

# Jobs that keep their own monthly rhythm; starting them is idempotent.
SELF_SCHEDULING: tuple[str, ...] = ("platform_core.evaluation.jobs:ensure_scheduled",)

_BY_NAME = {p.name: p for p in PERIODIC}


def _schedule(runtime: Runtime, p: Periodic, after: datetime) -> str:
    at = p.next_run(after, ZoneInfo(runtime.settings.timezone))
    return runtime.jobs.enqueue(
        "platform_core.periodic:run_periodic",
        p.name,
        job_id=f"periodic-{p.name}-{at.astimezone(ZoneInfo('UTC')):%Y%m%d%H%M}",
        at=at,
    )


def ensure_periodic_jobs(runtime: Runtime, *, now: datetime | None = None) -> list[str]:
    """Schedule the next run of every recurring job (safe to call from every process start)."""
    now = now or utcnow()
    ids = [_schedule(runtime, p, now) for p in PERIODIC]
    for path in SELF_SCHEDULING:
        ids.append(resolve(path)(runtime))
    return ids


def run_periodic(name: str) -> Any:
    runtime = current_runtime()
    p = _BY_NAME[name]
    _schedule(runtime, p, utcnow() + timedelta(seconds=1))
    return resolve(p.func_path)(*p.args(runtime))
