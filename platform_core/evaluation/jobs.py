"""The monthly evaluation as an RQ job: early on the 1st it evaluates the month just ended, then
schedules itself for the next month (one job per month, whoever schedules it)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from platform_core.actors import system_actor
from platform_core.db import utcnow
from platform_core.evaluation import service
from platform_core.orders.periods import previous_month
from platform_core.runtime import Runtime, current_runtime

JOB = "platform_core.evaluation.jobs:monthly_evaluation"
RUN_AT = time(2, 0)  # local time on the 1st: after the month's last services, before office hours


def next_run(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    first = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(first.date(), RUN_AT, tzinfo=ZoneInfo(timezone))


def ensure_scheduled(runtime: Runtime) -> str:
    at = next_run(utcnow(), runtime.settings.timezone)
    return runtime.jobs.enqueue(JOB, None, job_id=f"evaluation-{at:%Y-%m}", at=at)


def monthly_evaluation(month: str | None = None) -> int:
    runtime = current_runtime()
    settings = runtime.settings
    month = month or previous_month(utcnow(), settings.timezone)
    actor = system_actor("月度评估", region_code=settings.home_region_code)
    with runtime.session() as s:
        done = len(service.evaluate_month(s, actor=actor, month=month))
    ensure_scheduled(runtime)
    return done
