"""Alarm timers: a timer is data on the alarm (rung, due time, sequence number) plus one job due at
that time, written to the outbox in the transaction that set the timer.

The job compares the sequence number, so a timer overtaken by a later step does nothing; a
rolled-back change leaves no job behind. The intake also fires due timers straight from the
alarms table every second (platform_core.alarms.jobs.fire_due_timers); whichever comes first
moves the timer on and the other finds it stale.
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
