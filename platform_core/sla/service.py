"""SLA timers (响应 / 到场时限): a job per order and kind, due at the deadline fixed when the
order was opened.

A timer carries no state of its own: when it fires it reads the order as it stands now, so a
timer whose deadline was met (or whose order ended) does nothing, and firing twice records one
breach (one row per order and kind). A breach is recorded, escalates the order where the
lifecycle allows and, by configuration, sends it back to dispatch past the provider that missed
it; a supervisor alert is published. Timers lost while no worker ran are re-created by
:func:`reschedule_open_timers` at worker start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import utcnow
from platform_core.events import publish_on_commit
from platform_core.orders import followups
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import TERMINAL, Command, transitions_from
from platform_core.outbox import enqueue_on_commit
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.sla.events import SlaBreached
from platform_core.sla.models import SlaBreach

KINDS = ("response", "arrival")
KIND_LABELS = {"response": "响应", "arrival": "到场"}


@dataclass(frozen=True)
class SlaCheck:
    order_id: int
    kind: str
    result: str  # met, not_due, breached, already_breached, no_deadline, ended
    breach_id: int | None = None


def sla_actor(region_code: str) -> Actor:
    return Actor(kind="system", name="SLA计时", region_code=region_code)


def _due(order: ServiceOrder, kind: str) -> datetime | None:
    return order.response_due_at if kind == "response" else order.arrival_due_at


def _met_at(order: ServiceOrder, kind: str) -> datetime | None:
    """When the deadline's step happened: accepted (or answered by the hotline) for response,
    checked in for arrival."""
    if kind == "response":
        return order.accepted_at or order.completed_at
    return order.checked_in_at or order.checked_out_at


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown SLA kind {kind!r}")


def check_deadline(
    session: Session, *, order_id: int, kind: str, now: datetime | None = None
) -> SlaCheck:
    """Run the ``kind`` timer of an order: nothing if met or not yet due, else the breach."""
    _check_kind(kind)
    order = orders.lock_order(session, order_id=order_id)
    due = _due(order, kind)
    if due is None:
        return SlaCheck(order.id, kind, "no_deadline")
    existing = session.scalar(
        select(SlaBreach.id).where(SlaBreach.order_id == order.id, SlaBreach.kind == kind)
    )
    if existing is not None:
        return SlaCheck(order.id, kind, "already_breached", existing)
    met_at = _met_at(order, kind)
    if met_at is not None and met_at <= due:
        return SlaCheck(order.id, kind, "met")
    ended_at = order.cancelled_at or order.closed_at
    if met_at is None and ended_at is not None and ended_at <= due:
        return SlaCheck(order.id, kind, "ended")
    now = now or utcnow()
    if met_at is None and now < due:
        # delivered early (clocks, or a deadline moved later): wait for the real one
        schedule(session, order=order, kinds=(kind,))
        return SlaCheck(order.id, kind, "not_due")
    return _breach(session, order, kind=kind, due=due, met_at=met_at, now=now)


def _breach(
    session: Session,
    order: ServiceOrder,
    *,
    kind: str,
    due: datetime,
    met_at: datetime | None,
    now: datetime,
) -> SlaCheck:
    settings = settings_of(session)
    late = None if met_at is None else round((met_at - due).total_seconds() / 60, 1)
    row = SlaBreach(
        order_id=order.id,
        kind=kind,
        region_code=order.region_code,
        service_type_code=order.service_type_code,
        urgency=order.urgency,
        provider_id=order.provider_id,
        due_at=due,
        detected_at=now,
        status_at_breach=order.status,
        late_by_minutes=late,
    )
    session.add(row)
    session.flush()
    # still missed now and still under way: escalate (and, by configuration, re-dispatch)
    escalatable = order.status not in TERMINAL and any(
        t.command == Command.ESCALATE for t in transitions_from(order.status)
    )
    if met_at is None and escalatable:
        minutes = order.response_minutes if kind == "response" else order.arrival_minutes
        orders.escalate(
            session,
            actor=sla_actor(order.region_code),
            order_id=order.id,
            reason=f"{KIND_LABELS[kind]}超时 ({minutes} 分钟) / {kind} SLA of {minutes} min missed",
            breach=kind,
        )
        row.escalated = True
        if settings.sla_redispatch_on_breach:
            seq = order.transition_count
            enqueue_on_commit(
                session,
                followups.DISPATCH_JOB,
                order.id,
                seq,
                job_id=followups.dispatch_job_id(order.id, seq),
                queue=followups.DISPATCH_QUEUE,
            )
            row.redispatched = True
        session.flush()
    publish_on_commit(
        session,
        SlaBreached(
            order_id=order.id,
            order_no=order.order_no,
            region_code=order.region_code,
            service_type_code=order.service_type_code,
            urgency=order.urgency,
            kind=kind,
            due_at=due.isoformat(),
            provider_id=row.provider_id,
            status=order.status,
            escalated=row.escalated,
            redispatched=row.redispatched,
        ),
    )
    return SlaCheck(order.id, kind, "breached", row.id)


def schedule(session: Session, *, order: ServiceOrder, kinds: tuple[str, ...] = KINDS) -> int:
    """Queue the order's timers (after commit) under their fixed ids; returns how many."""
    n = 0
    for kind in kinds:
        due = _due(order, kind)
        if due is None:
            continue
        enqueue_on_commit(
            session,
            followups.SLA_JOB,
            order.id,
            kind,
            job_id=followups.sla_job_id(order.id, kind),
            at=due,
            queue=followups.SLA_QUEUE,
        )
        n += 1
    return n


def reschedule_open_timers(session: Session) -> int:
    """Recovery at worker start: a timer for every deadline of an open order that is neither
    met nor recorded as breached (a deadline already past fires at once)."""
    breached = {
        (oid, kind) for oid, kind in session.execute(select(SlaBreach.order_id, SlaBreach.kind))
    }
    open_ = session.scalars(
        select(ServiceOrder).where(
            ServiceOrder.status.not_in([s.value for s in TERMINAL]),
            or_(
                and_(ServiceOrder.accepted_at.is_(None), ServiceOrder.completed_at.is_(None)),
                and_(
                    ServiceOrder.arrival_due_at.is_not(None),
                    ServiceOrder.checked_in_at.is_(None),
                    ServiceOrder.checked_out_at.is_(None),
                ),
            ),
        )
    )
    n = 0
    for order in open_:
        kinds = tuple(
            k
            for k in KINDS
            if (order.id, k) not in breached
            and _due(order, k) is not None
            and _met_at(order, k) is None
        )
        n += schedule(session, order=order, kinds=kinds)
    return n


def list_breaches(
    session: Session,
    *,
    region_code: str,
    since: datetime | None = None,
    provider_id: int | None = None,
    limit: int = 200,
) -> list[SlaBreach]:
    q = (
        select(SlaBreach)
        .where(within(SlaBreach.region_code, region_code))
        .order_by(SlaBreach.detected_at.desc())
        .limit(limit)
    )
    if since is not None:
        q = q.where(SlaBreach.detected_at >= since)
    if provider_id is not None:
        q = q.where(SlaBreach.provider_id == provider_id)
    return list(session.scalars(q))
