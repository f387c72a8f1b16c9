"""What follows an order's step once it commits: dispatch, the acceptance window, SLA timers and
text messages, each a job written to the outbox in the step's own transaction.

A rolled-back step leaves no job behind; a committed one's jobs reach the workers even when
Redis was away at the commit (the outbox relay hands them on once it is back). Every job id is
derived from the order and the step's number in its transition log, and every job checks the
order's state when it runs: a job queued twice, or run again after a worker died, finds its work
done and does nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from platform_core.notifications.service import SMS_QUEUE
from platform_core.outbox import enqueue_on_commit
from platform_core.runtime import settings_of
from platform_core.settings import Settings, SettingsError, parse_number, parse_pairs

if TYPE_CHECKING:
    from platform_core.orders.models import ServiceOrder

# Jobs are named by string: the name is what RQ stores and a worker imports, and dispatch, SLA
# and alarms sit above orders (they import it), so orders names their entry points, never
# imports them.
DISPATCH_JOB = "platform_core.dispatch.jobs:dispatch_order"
ACCEPT_WINDOW_JOB = "platform_core.dispatch.jobs:acceptance_window_elapsed"
SLA_JOB = "platform_core.sla.jobs:sla_due"
NOTIFY_JOB = "platform_core.orders.jobs:notify_order_step"
# An emergency order from an alarm: the provider's own steps go on the alarm.
ALARM_JOB = "platform_core.flows.alarm_orders:order_step_reached_alarm"
ALARM_SOURCE = "sos_alarm"
_ALARM_STEPS = frozenset({"accept", "reject", "check_in"})

# Queues by kind of work; `hotline worker` serves them in priority order (settings.worker_queues).
DISPATCH_QUEUE = "dispatch"
SLA_QUEUE = "sla"

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


def dispatch_job_id(order_id: int, seq: int, attempt: int = 0) -> str:
    return f"dispatch-{order_id}-{seq}" + (f"-r{attempt}" if attempt else "")


def accept_window_job_id(order_id: int, seq: int) -> str:
    return f"accept-window-{order_id}-{seq}"


def sla_job_id(order_id: int, kind: str) -> str:
    return f"sla-{order_id}-{kind}"


def notify_job_id(order_id: int, seq: int) -> str:
    return f"notify-{order_id}-{seq}"


def plan(session: Session, order: ServiceOrder, *, command: str, seq: int) -> None:
    """Queue the jobs that follow ``command`` (step ``seq``) on ``order``."""
    if command == "open_order":
        for kind, due in (("response", order.response_due_at), ("arrival", order.arrival_due_at)):
            if due is not None:
                enqueue_on_commit(
                    session,
                    SLA_JOB,
                    order.id,
                    kind,
                    job_id=sla_job_id(order.id, kind),
                    at=due,
                    queue=SLA_QUEUE,
                )
    elif command in _TO_DISPATCH:
        enqueue_on_commit(
            session,
            DISPATCH_JOB,
            order.id,
            seq,
            job_id=dispatch_job_id(order.id, seq),
            queue=DISPATCH_QUEUE,
        )
    elif command == "dispatch_to" and order.dispatched_at is not None:
        enqueue_on_commit(
            session,
            ACCEPT_WINDOW_JOB,
            order.id,
            seq,
            job_id=accept_window_job_id(order.id, seq),
            at=order.dispatched_at + acceptance_window(session, order),
            queue=DISPATCH_QUEUE,
        )
    if command in _ALARM_STEPS and order.source == ALARM_SOURCE:
        enqueue_on_commit(
            session,
            ALARM_JOB,
            order.id,
            seq,
            job_id=f"alarm-order-{order.id}-{seq}",
            queue=DISPATCH_QUEUE,
        )
    if command in NOTIFYING_STEPS:
        enqueue_on_commit(
            session, NOTIFY_JOB, order.id, seq, job_id=notify_job_id(order.id, seq), queue=SMS_QUEUE
        )


def acceptance_window(session: Session, order: ServiceOrder) -> timedelta:
    settings = settings_of(session)
    minutes = accept_window_minutes(
        settings, service_type_code=order.service_type_code, urgency=order.urgency
    )
    return timedelta(minutes=minutes)


def accept_window_minutes(settings: Settings, *, service_type_code: str, urgency: str) -> float:
    """Minutes a provider has to accept: the service type's own window, else its urgency's."""
    windows = parse_pairs(settings.dispatch_accept_windows, variable="dispatch_accept_windows")
    raw = windows.get(service_type_code) or windows.get(urgency) or windows.get("normal") or "30"
    minutes = parse_number(raw, variable="dispatch_accept_windows", key=service_type_code)
    if minutes <= 0:
        raise SettingsError(
            "HOTLINE_DISPATCH_ACCEPT_WINDOWS: 接单时限必须大于 0 / must be positive"
        )
    return minutes
