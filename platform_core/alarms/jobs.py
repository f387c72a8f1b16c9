"""RQ entry points of alarms: they take ids, open their own session and call the service."""

from __future__ import annotations

from sqlalchemy import select

from platform_core.alarms import service
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import OPEN_STATUSES
from platform_core.db import utcnow
from platform_core.runtime import current_runtime


def alarm_timer_expired(alarm_id: int, seq: int) -> str:
    """A rung's timer ran out (idempotent: an overtaken or repeated timer does nothing)."""
    with current_runtime().session() as s:
        return service.timer_expired(s, alarm_id=alarm_id, seq=seq)


def fire_due_timers(limit: int = 500) -> int:
    """Fire every alarm timer that is due, straight from the database: the intake runs this
    every second (a raised alarm's take timer has no job of its own, see timers.py) and every
    worker once a minute (``alarm-timers`` in platform_core.periodic). Idempotent with the timer
    jobs: whichever comes first moves the timer on, the other finds it stale."""
    rt = current_runtime()
    with rt.session() as s:
        due = s.execute(
            select(Alarm.id, Alarm.timer_seq)
            .where(
                Alarm.status.in_([st.value for st in OPEN_STATUSES]),
                Alarm.timer_due_at.is_not(None),
                Alarm.timer_due_at <= utcnow(),
            )
            .order_by(Alarm.timer_due_at)
            .limit(limit)
        ).all()
    fired = 0
    for alarm_id, seq in due:
        with rt.session() as s:
            if service.timer_expired(s, alarm_id=alarm_id, seq=seq) != "stale":
                fired += 1
    return fired
