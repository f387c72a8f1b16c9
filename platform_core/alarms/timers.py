"""Alarm timers: a timer is data on the alarm (rung, due time, sequence number), fired from the
alarms table by a sweep (platform_core.alarms.jobs.fire_due_timers): the intake runs it every
second, and every worker once a minute (a periodic job) should no intake be running.

A raised alarm's take timer is that data alone: a burst of alarms writes no job per alarm. A
timer set while someone works the alarm (a step, an escalation) also gets a job, written to the
outbox in the transaction that set it, so it fires on time wherever a worker runs. The job and
the sweep compare the sequence number: a timer overtaken by a later step does nothing, and of
the job and the sweep whichever comes first moves the timer on, the other finds it stale.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from platform_core.outbox import enqueue_on_commit

JOB = "platform_core.alarms.jobs:alarm_timer_expired"


def job_id(alarm_id: int, seq: int) -> str:
    return f"alarm-timer-{alarm_id}-{seq}"


def schedule(session: Session, *, alarm_id: int, seq: int, due_at: datetime) -> None:
    """Fire the alarm's timer ``seq`` at ``due_at``, once this unit of work commits."""
    enqueue_on_commit(session, JOB, alarm_id, seq, job_id=job_id(alarm_id, seq), at=due_at)
