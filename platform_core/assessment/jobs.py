"""RQ entry points for re-assessment reminders. They take plain values and open their own
session; running one twice for the same day sends nothing twice (``reminded_on``)."""

from __future__ import annotations

from datetime import date, time, timedelta

from platform_core import clock
from platform_core.assessment.service import send_reassessment_reminders
from platform_core.runtime import current_runtime

JOB = "platform_core.assessment.jobs:remind_due_reassessments"


def remind_due_reassessments(
    region_code: str, on_iso: str | None = None, reschedule: bool = True
) -> int:
    """Remind every due re-assessment in ``region_code``; then book tomorrow's run (08:00 local)."""
    runtime = current_runtime()
    on = date.fromisoformat(on_iso) if on_iso else clock.today(runtime.settings.timezone)
    with runtime.session() as s:
        sent = send_reassessment_reminders(s, region_code=region_code, on=on)
    if reschedule:
        schedule_daily_reminders(region_code, day=on + timedelta(days=1))
    return sent


def schedule_daily_reminders(region_code: str, *, day: date) -> str:
    """Book the reminder run of ``day`` (job id per region and day; a duplicate run sends nothing)."""
    runtime = current_runtime()
    at = clock.at_local(day, time(8, 0), runtime.settings.timezone)
    return runtime.jobs.enqueue(
        JOB,
        region_code,
        day.isoformat(),
        True,
        job_id=f"assessment-reminders-{region_code}-{day.isoformat()}",
        at=at,
    )
