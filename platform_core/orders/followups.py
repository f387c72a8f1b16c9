"""What follows an order's step once it commits: dispatch, the acceptance window, SLA timers and
text messages, each an RQ job.

A step queues its jobs in the session; they are enqueued only after the commit, so a rolled-back
step leaves no job behind. Every job id is derived from the order and the step's number in its
transition log, and every job checks the order's state when it runs: a job enqueued twice, or
run again after a worker died, finds its work done and does nothing. A job lost between the
commit and the enqueue (Redis away) is found by the recovery sweep at worker start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from platform_core.orders.models import ServiceOrder

log = logging.getLogger(__name__)

DISPATCH_JOB = "platform_core.dispatch.jobs:dispatch_order"
ACCEPT_WINDOW_JOB = "platform_core.dispatch.jobs:acceptance_window_elapsed"
SLA_JOB = "platform_core.sla.jobs:sla_due"
NOTIFY_JOB = "platform_core.notifications.jobs:notify_order_step"
# An emergency order from an alarm: the provider's own steps go on the alarm.
ALARM_JOB = "platform_core.flows.alarm_orders:order_step_reached_alarm"
ALARM_SOURCE = "sos_alarm"
_ALARM_STEPS = frozenset({"accept", "reject", "check_in"})

# Queues by kind of work; `hotline worker` serves them in priority order (settings.worker_queues).
DISPATCH_QUEUE = "dispatch"
SLA_QUEUE = "sla"
SMS_QUEUE = "sms"

# Steps that hand the order (back) to dispatch.
_TO_DISPATCH = frozenset({"submit_for_dispatch", "reject"})
# Steps somebody is told about by text message (the notifications module picks who).
NOTIFYING_STEPS = frozenset(
    {
        "dispatch_to",
        "accept",
        "assign_staff",
        "start_travel",
        "check_in",
        "check_out",
        "complete",
        "cancel",
    }
)

_PENDING = "order_followup_jobs"


@dataclass(frozen=True)
class PlannedJob:
    func_path: str
    args: tuple[Any, ...]
    job_id: str
    at: datetime | None = None
    queue: str = "default"


def dispatch_job_id(order_id: int, seq: int, attempt: int = 0) -> str:
    return f"dispatch-{order_id}-{seq}" + (f"-r{attempt}" if attempt else "")


def accept_window_job_id(order_id: int, seq: int) -> str:
    return f"accept-window-{order_id}-{seq}"


def sla_job_id(order_id: int, kind: str) -> str:
    return f"sla-{order_id}-{kind}"


def notify_job_id(order_id: int, seq: int) -> str:
    return f"notify-{order_id}-{seq}"


def enqueue_after_commit(
    session: Session,
    func_path: str,
    *args: Any,
    job_id: str,
    at: datetime | None = None,
    queue: str = "default",
) -> None:
    """Enqueue a job once (and only if) this unit of work commits."""
    session.info.setdefault(_PENDING, []).append(PlannedJob(func_path, args, job_id, at, queue))


def plan(session: Session, order: ServiceOrder, *, command: str, seq: int) -> None:
    """Queue the jobs that follow ``command`` (step ``seq``) on ``order``."""
    if command == "open_order":
        for kind, due in (("response", order.response_due_at), ("arrival", order.arrival_due_at)):
            if due is not None:
                enqueue_after_commit(
                    session,
                    SLA_JOB,
                    order.id,
                    kind,
                    job_id=sla_job_id(order.id, kind),
                    at=due,
                    queue=SLA_QUEUE,
                )
    elif command in _TO_DISPATCH:
        enqueue_after_commit(
            session,
            DISPATCH_JOB,
            order.id,
            seq,
            job_id=dispatch_job_id(order.id, seq),
            queue=DISPATCH_QUEUE,
        )
    elif command == "dispatch_to" and order.dispatched_at is not None:
        enqueue_after_commit(
            session,
            ACCEPT_WINDOW_JOB,
            order.id,
            seq,
            job_id=accept_window_job_id(order.id, seq),
            at=order.dispatched_at + acceptance_window(session, order),
            queue=DISPATCH_QUEUE,
        )
    if command in _ALARM_STEPS and order.source == ALARM_SOURCE:
        enqueue_after_commit(
            session,
            ALARM_JOB,
            order.id,
            seq,
            job_id=f"alarm-order-{order.id}-{seq}",
            queue=DISPATCH_QUEUE,
        )
    if command in NOTIFYING_STEPS:
        enqueue_after_commit(
            session, NOTIFY_JOB, order.id, seq, job_id=notify_job_id(order.id, seq), queue=SMS_QUEUE
        )


def acceptance_window(session: Session, order: ServiceOrder) -> timedelta:
    from platform_core.dispatch.config import accept_window_minutes
    from platform_core.settings import Settings

    settings = session.info.get("settings") or Settings()
    minutes = accept_window_minutes(
        settings, service_type_code=order.service_type_code, urgency=order.urgency
    )
    return timedelta(minutes=minutes)


def enqueue_now(jobs: list[PlannedJob]) -> None:
    """Enqueue on the installed runtime's job queue (a worker, the console, the demo)."""
    from platform_core.runtime import current_runtime

    queue = current_runtime().jobs
    for job in jobs:
        queue.enqueue(job.func_path, *job.args, job_id=job.job_id, at=job.at, queue=job.queue)


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    pending: list[PlannedJob] = session.info.pop(_PENDING, [])
    if not pending:
        return
    try:
        enqueue_now(pending)
    except RuntimeError as exc:  # no runtime installed: a script or a benchmark without jobs
        log.debug("未安装运行时, %d 个后续任务未入队 / no runtime: %s", len(pending), exc)
    except Exception:  # the commit stands; the recovery sweep at worker start finds the work
        log.exception("工单后续任务入队失败 / enqueueing %d order follow-ups failed", len(pending))


@event.listens_for(Session, "after_rollback")
def _discard_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
