"""Dispatch (派单): rank the providers that could take an order and send it to the best one.

Every command locks the order first, so two workers dispatching the same order run one after
the other and the second finds it dispatched; the chosen provider's row is locked while its
load is counted again, so two orders dispatched at once never overfill it. The ranking goes on
the dispatch step of the order's history, where the console reads why a provider came first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.dispatch import config
from platform_core.dispatch.events import DispatchOverridden, DispatchStalled
from platform_core.dispatch.ranking import (
    CandidateFacts,
    Excluded,
    Ranking,
    Scored,
    haversine_km,
    rank,
)
from platform_core.errors import DomainError, PermissionDenied, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.orders import followups
from platform_core.orders import service as orders
from platform_core.orders.models import OrderTransition, ServiceOrder, Urgency
from platform_core.orders.states import LOAD_STATUSES, TERMINAL, OrderStatus
from platform_core.outbox import enqueue_on_commit
from platform_core.providers import service as providers
from platform_core.providers.models import Provider
from platform_core.regions import codes
from platform_core.runtime import settings_of
from platform_core.settings import Settings
from platform_core.sites.models import ServiceSite

# Statuses from which dispatch may send the order to a provider.
DISPATCHABLE = frozenset(
    {OrderStatus.PENDING_DISPATCH, OrderStatus.REJECTED, OrderStatus.ESCALATED}
)
# Statuses an override moves the order away from its provider first.
REASSIGNABLE = frozenset({OrderStatus.DISPATCHED, OrderStatus.ACCEPTED})


@dataclass(frozen=True)
class DispatchOutcome:
    order_id: int
    result: str  # "dispatched", "unchanged" (nothing to do), "no_provider"
    status: str
    provider_id: int | None
    explanation: dict[str, Any] | None = None


def dispatcher(region_code: str) -> Actor:
    """The actor of automatic dispatch, in the order's own region."""
    return Actor(kind="system", name="自动派单", region_code=region_code)


def _lock_order(session: Session, order_id: int) -> ServiceOrder:
    # the order's own lock: the dispatch step after it reads the order from this transaction
    return orders.lock_order(session, order_id=order_id)


def passed_over(session: Session, *, order_id: int) -> dict[int, str]:
    """Providers that already had this order, and why they lost it."""
    out: dict[int, str] = {}
    rows = session.execute(
        select(OrderTransition.command, OrderTransition.detail)
        .where(
            OrderTransition.order_id == order_id,
            OrderTransition.command.in_(["reject", "escalate"]),
        )
        .order_by(OrderTransition.seq)
    )
    for command, detail in rows:
        pid = (detail or {}).get("provider_id")
        if pid is None:
            continue
        if command == "reject":
            cause = detail.get("cause", "declined")
            out[int(pid)] = {"timed_out": "timed_out", "reassigned": "declined"}.get(cause, cause)
        elif detail.get("breach"):
            out[int(pid)] = "breached"
    return out


def candidate_facts(session: Session, order: ServiceOrder) -> list[CandidateFacts]:
    found = providers.candidate_rows(
        session, region_code=order.region_code, service_type_code=order.service_type_code
    )
    loads = orders.provider_loads(session, provider_ids=[p.provider_id for p in found])
    site = session.get(ServiceSite, order.site_id) if order.site_id else None
    out = []
    for p in found:
        distance = None
        if None not in (order.latitude, order.longitude, p.latitude, p.longitude):
            distance = haversine_km(order.latitude, order.longitude, p.latitude, p.longitude)  # type: ignore[arg-type]
        out.append(
            CandidateFacts(
                provider_id=p.provider_id,
                name=p.name,
                status=p.status,
                grade=p.grade,
                credit_score=p.credit_score,
                capacity=p.capacity,
                load=loads.get(p.provider_id, 0),
                distance_km=distance,
                coverage_level=max((codes.level_of(c) for c in p.covering_codes), default=0),
                operates_site=None if site is None else site.provider_id == p.provider_id,
            )
        )
    return out


def rank_for(session: Session, order: ServiceOrder) -> Ranking:
    settings = settings_of(session)
    # an order nobody declined, let lapse or breached has nobody to pass over
    fresh = not (order.reject_count or order.escalation_count)
    return rank(
        candidate_facts(session, order),
        weights=config.weights(settings),
        rules=config.status_rules(settings),
        max_distance_km=settings.dispatch_max_distance_km,
        emergency=order.urgency == Urgency.EMERGENCY,
        passed_over={} if fresh else passed_over(session, order_id=order.id),
        radius_km=settings.dispatch_emergency_radius_km
        if order.urgency == Urgency.EMERGENCY
        else None,
    )


def rank_providers(session: Session, *, actor: Actor, order_id: int) -> Ranking:
    """The ranking dispatch would use now (for the console's "why" and an override's choice)."""
    order = orders.get_order(session, order_id=order_id, within_region=actor.region_code)
    return rank_for(session, order)


def _explanation(
    session: Session,
    order: ServiceOrder,
    ranking: Ranking,
    *,
    mode: str,
    chosen: Scored | None,
    chosen_rank: int | None,
) -> dict[str, Any]:
    settings = settings_of(session)
    out: dict[str, Any] = {
        "mode": mode,
        "ranked_at": utcnow().isoformat(),
        "emergency": order.urgency == Urgency.EMERGENCY,
        "weights": config.weights(settings),
        "candidates": [s.explain(i) for i, s in enumerate(ranking.ranked[:5], 1)],
        "excluded": [e.explain() for e in ranking.excluded],
    }
    site = session.get(ServiceSite, order.site_id) if order.site_id else None
    if site is not None:
        out["site"] = {"id": site.id, "name": site.name, "provider_id": site.provider_id}
    if chosen is not None and chosen_rank is not None:
        out.update(chosen.explain(chosen_rank))
    return out


def _load_now(session: Session, provider_id: int) -> int:
    """The provider's load, counted with its row locked (see the module docstring)."""
    session.execute(select(Provider.id).where(Provider.id == provider_id).with_for_update()).first()
    return int(
        session.scalar(
            select(func.count())
            .select_from(ServiceOrder)
            .where(
                ServiceOrder.provider_id == provider_id,
                ServiceOrder.status.in_([s.value for s in LOAD_STATUSES]),
            )
        )
        or 0
    )


def dispatch_order(session: Session, *, order_id: int, attempt: int = 0) -> DispatchOutcome:
    """Send the order to the best-ranked provider that still has room; idempotent."""
    order = _lock_order(session, order_id)
    if order.status not in DISPATCHABLE:
        return DispatchOutcome(order.id, "unchanged", order.status, order.provider_id)
    ranking = rank_for(session, order)
    for position, candidate in enumerate(ranking.ranked, 1):
        if _load_now(session, candidate.facts.provider_id) >= candidate.effective_capacity:
            ranking.excluded.append(
                Excluded(candidate.facts.provider_id, candidate.facts.name, "at_capacity")
            )
            continue
        explanation = _explanation(
            session, order, ranking, mode="auto", chosen=candidate, chosen_rank=position
        )
        orders.dispatch_to(
            session,
            actor=dispatcher(order.region_code),
            order_id=order.id,
            provider_id=candidate.facts.provider_id,
            reason="自动派单",
            explanation=explanation,
        )
        return DispatchOutcome(order.id, "dispatched", order.status, order.provider_id, explanation)
    excluded = [e.explain() for e in ranking.excluded]
    publish_on_commit(
        session,
        DispatchStalled(
            order_id=order.id,
            order_no=order.order_no,
            region_code=order.region_code,
            service_type_code=order.service_type_code,
            urgency=order.urgency,
            attempt=attempt,
            excluded=excluded,
        ),
    )
    return DispatchOutcome(
        order.id, "no_provider", order.status, None, {"excluded": excluded, "attempt": attempt}
    )


def retry_delay(settings: Settings, attempt: int) -> timedelta:
    """The wait before try ``attempt`` (1, 2, ...) of a stalled order: the retry interval, then
    twice as long each time up to the longest. Nobody covering the order is rarely undone within
    minutes (a supervisor has been alerted); every such order tried every two minutes forever
    was a load growing with each of them (900 orders by the dispatch benchmark's third run)."""
    first = settings.dispatch_retry_interval_s
    longest = max(first, settings.dispatch_retry_longest_s)
    # the doubling stops once past the longest (an order stalled for a year is try 17,000)
    doublings = min(max(0, attempt - 1), 32)
    return timedelta(seconds=min(first * 2**doublings, longest))


def schedule_retry(session: Session, *, order_id: int, seq: int, attempt: int) -> datetime:
    """Try a stalled order again later (a provider may have room by then), each wait longer."""
    at = utcnow() + retry_delay(settings_of(session), attempt)
    enqueue_on_commit(
        session,
        followups.DISPATCH_JOB,
        order_id,
        seq,
        attempt,
        job_id=followups.dispatch_job_id(order_id, seq, attempt),
        at=at,
        queue=followups.DISPATCH_QUEUE,
    )
    return at


def last_dispatch_seq(session: Session, *, order_id: int) -> int | None:
    return session.scalar(
        select(func.max(OrderTransition.seq)).where(
            OrderTransition.order_id == order_id, OrderTransition.command == "dispatch_to"
        )
    )


def expire_acceptance(
    session: Session, *, order_id: int, dispatch_seq: int, now: datetime | None = None
) -> bool:
    """The provider let the acceptance window of dispatch step ``dispatch_seq`` run out: take
    the order back (dispatch then offers it to the next provider). Stale windows do nothing."""
    order = _lock_order(session, order_id)
    if order.status != OrderStatus.DISPATCHED or order.dispatched_at is None:
        return False
    if last_dispatch_seq(session, order_id=order.id) != dispatch_seq:
        return False
    window = followups.acceptance_window(session, order)
    due = order.dispatched_at + window
    now = now or utcnow()
    if now < due:  # delivered early (clocks): wait for the real deadline
        enqueue_on_commit(
            session,
            followups.ACCEPT_WINDOW_JOB,
            order.id,
            dispatch_seq,
            job_id=followups.accept_window_job_id(order.id, dispatch_seq),
            at=due,
            queue=followups.DISPATCH_QUEUE,
        )
        return False
    minutes = round(window.total_seconds() / 60, 1)
    orders.reject(
        session,
        actor=dispatcher(order.region_code),
        order_id=order.id,
        reason=f"{minutes:g} 分钟内未接单, 改派 / not accepted within {minutes:g} min",
        cause="timed_out",
    )
    return True


def override_dispatch(
    session: Session, *, actor: Actor, order_id: int, provider_id: int, reason: str
) -> ServiceOrder:
    """Hotline staff send the order to a provider of their choosing (改派), saying why; the
    ranking at that moment is kept beside the choice, and the override is audited."""
    order = _lock_order(session, order_id)

    def refused(err: DomainError) -> None:
        # audited alike whether a check before the move or the move itself refused it
        orders.refuse_on_order(
            session,
            actor=actor,
            action="dispatch.override",
            order_id=order_id,
            reason=err.code,
            detail={"provider_id": provider_id},
        )

    try:
        if providers.is_provider_actor(actor):
            raise PermissionDenied(
                "服务商不能指定派单 / a provider may not choose where orders go",
                code="permission_denied",
            )
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed(
                "人工派单必须说明原因 / an override needs a reason", code="reason_required"
            )
        if order.status in TERMINAL:
            raise orders.IllegalTransition(
                "工单已结束, 不能改派 / the order is closed", code="illegal_transition"
            )
        providers.get_provider(session, provider_id=provider_id)
    except DomainError as err:
        refused(err)
        raise
    ranking = rank_for(session, order)
    auto_choice = ranking.ranked[0].facts.provider_id if ranking.ranked else None
    previous = order.provider_id
    if order.status == OrderStatus.CREATED:
        orders.submit_for_dispatch(session, actor=actor, order_id=order.id, reason=reason)
    elif order.status in REASSIGNABLE:
        orders.reject(
            session, actor=actor, order_id=order.id, reason=f"改派: {reason}", cause="reassigned"
        )
    position = next(
        (i for i, s in enumerate(ranking.ranked, 1) if s.facts.provider_id == provider_id), None
    )
    chosen = ranking.ranked[position - 1] if position else None
    explanation = _explanation(
        session, order, ranking, mode="override", chosen=chosen, chosen_rank=position
    )
    explanation.update(
        {
            "provider_id": provider_id,
            "override_reason": reason,
            "auto_choice_id": auto_choice,
            "excluded_reason": next(
                (e.reason for e in ranking.excluded if e.provider_id == provider_id), None
            ),
        }
    )
    try:
        orders.dispatch_to(
            session,
            actor=actor,
            order_id=order.id,
            provider_id=provider_id,
            reason=reason,
            explanation=explanation,
        )
    except DomainError as err:
        refused(err)
        raise
    audit.record(
        session,
        actor=actor,
        action="dispatch.override",
        target_type="service_order",
        target_id=order.id,
        detail={
            "provider_id": provider_id,
            "previous_provider_id": previous,
            "auto_choice_id": auto_choice,
            "rank": position,
            "reason": reason,
        },
    )
    publish_on_commit(
        session,
        DispatchOverridden(
            order_id=order.id,
            order_no=order.order_no,
            region_code=order.region_code,
            provider_id=provider_id,
            previous_provider_id=previous,
            auto_choice_id=auto_choice,
            reason=reason,
            by=actor.label,
        ),
    )
    return order


def dispatch_history(session: Session, *, order_id: int) -> list[dict[str, Any]]:
    """Every dispatch of the order with who sent it and why (the ranking kept at the time)."""
    rows = session.scalars(
        select(OrderTransition)
        .where(OrderTransition.order_id == order_id, OrderTransition.command == "dispatch_to")
        .order_by(OrderTransition.seq)
    )
    return [
        {
            "seq": t.seq,
            "at": t.at.isoformat(),
            "by": t.actor_name,
            "provider_id": t.detail.get("provider_id"),
            "provider_name": t.detail.get("provider_name"),
            "reason": t.reason,
            "explanation": t.detail.get("explanation"),
        }
        for t in rows
    ]


def requeue_open_work(session: Session) -> int:
    """Recovery at worker start: dispatch jobs for orders waiting for a provider and
    acceptance windows for dispatched ones, under the ids they were first given (RQ keeps one
    job per id, so nothing runs twice). Returns how many jobs were queued."""
    n = 0
    waiting = session.execute(
        select(ServiceOrder.id, ServiceOrder.transition_count).where(
            ServiceOrder.status.in_([s.value for s in DISPATCHABLE])
        )
    ).all()
    for order_id, seq in waiting:
        enqueue_on_commit(
            session,
            followups.DISPATCH_JOB,
            order_id,
            seq,
            job_id=followups.dispatch_job_id(order_id, seq),
            queue=followups.DISPATCH_QUEUE,
        )
        n += 1
    dispatched = session.scalars(
        select(ServiceOrder).where(ServiceOrder.status == OrderStatus.DISPATCHED.value)
    ).all()
    for order in dispatched:
        step = last_dispatch_seq(session, order_id=order.id)
        if step is None or order.dispatched_at is None:
            continue
        enqueue_on_commit(
            session,
            followups.ACCEPT_WINDOW_JOB,
            order.id,
            step,
            job_id=followups.accept_window_job_id(order.id, step),
            at=order.dispatched_at + followups.acceptance_window(session, order),
            queue=followups.DISPATCH_QUEUE,
        )
        n += 1
    return n
