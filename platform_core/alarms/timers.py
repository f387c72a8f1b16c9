"""Alarm timers as RQ jobs, enqueued only once the change that set them has committed.

A timer is data on the alarm (rung, due time, sequence number) plus one job due at that time;
the job compares the sequence number, so a timer overtaken by a later step does nothing.
Enqueueing after the commit means a rolled-back change leaves no job behind. A process that
enqueues many at once (the intake during a burst) passes ``session.info["timer_sink"]`` and
hands them elsewhere (its scheduler fires due timers from the database).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

JOB = "platform_core.alarms.jobs:alarm_timer_expired"
_PENDING = "alarm_timers"
Timer = tuple[int, int, datetime]  # alarm id, timer sequence, due at
TimerSink = Callable[[list[Timer]], None]


def schedule(session: Session, *, alarm_id: int, seq: int, due_at: datetime) -> None:
    session.info.setdefault(_PENDING, []).append((alarm_id, seq, due_at))


def job_id(alarm_id: int, seq: int) -> str:
    return f"alarm-timer-{alarm_id}-{seq}"


def enqueue(timers: list[Timer]) -> None:
    """Enqueue timer jobs on the installed runtime's queue."""
    from platform_core.runtime import current_runtime

    jobs = current_runtime().jobs
    for alarm_id, seq, due_at in timers:
        jobs.enqueue(JOB, alarm_id, seq, at=due_at, job_id=job_id(alarm_id, seq))


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    pending: list[Timer] = session.info.pop(_PENDING, [])
    if not pending:
        return
    sink: TimerSink | None = session.info.get("timer_sink")
    try:
        (sink or enqueue)(pending)
    except Exception:  # the commit stands; fire_due_timers fires what was not queued
        log.exception("告警计时器入队失败 / enqueueing %d alarm timers failed", len(pending))


@event.listens_for(Session, "after_rollback")
def _discard_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
