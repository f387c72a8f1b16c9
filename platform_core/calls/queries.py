"""The read side of calls: a call's record, a caller's recent calls, and the live snapshot a
console loads before it applies events."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from platform_core import clock
from platform_core.calls.agents import AGENT_STATES
from platform_core.calls.kpi import kpi_report
from platform_core.calls.models import Agent, Call, QueueEntry, RecallItem, TelephonyQueue
from platform_core.errors import NotFound
from platform_core.regions import codes
from platform_core.runtime import settings_of
from platform_core.settings import Settings


def find_call(session: Session, *, linkedid: str) -> Call | None:
    """The call's record as stored (the read side)."""
    return session.get(Call, linkedid)


def get_call(session: Session, *, linkedid: str) -> Call:
    call = find_call(session, linkedid=linkedid)
    if call is None:
        raise NotFound(f"通话不存在: {linkedid} / no such call", code="call_not_found")
    return call


def recent_calls(
    session: Session, *, elder_id: int | None = None, number: str | None = None, limit: int = 10
) -> list[Call]:
    """The caller's last calls, for the screen pop."""
    if elder_id is not None:
        return list(session.scalars(_recent_calls("elder_id", limit), {"key": elder_id}))
    if number:
        return list(session.scalars(_recent_calls("caller_number", limit), {"key": number}))
    return []


@lru_cache(maxsize=8)
def _recent_calls(by: str, limit: int) -> Select[Call]:
    """The last ``limit`` calls whose ``by`` column equals ``key``, built once for each: every
    screen pop runs one."""
    return (
        select(Call)
        .where(getattr(Call, by) == bindparam("key"))
        .order_by(Call.started_at.desc())
        .limit(limit)
    )


def day_bounds(settings: Settings, day: date) -> tuple[datetime, datetime]:
    return clock.day_bounds(day, settings.timezone)


def _queue_row(name: str, *, strategy: str | None = None, weight: int = 0) -> dict[str, Any]:
    return {
        "queue": name,
        "strategy": strategy,
        "weight": weight,
        "waiting": [],
        "waiting_count": 0,
        "longest_wait_s": 0.0,
        "agents": {s: 0 for s in AGENT_STATES},
    }


def live_snapshot(session: Session, *, region_code: str | None = None) -> dict[str, Any]:
    """What a console loads on (re)connect before applying events: queues with their waiting
    callers and longest wait, agents with state, reason and since, and today's KPIs."""
    settings = settings_of(session)
    now = clock.now()
    q = (
        select(QueueEntry, Call)
        .join(Call, Call.linkedid == QueueEntry.linkedid)
        .where(QueueEntry.left_at.is_(None), Call.ended_at.is_(None))
        .order_by(QueueEntry.queue, QueueEntry.priority.desc(), QueueEntry.joined_at)
    )
    if region_code:
        q = q.where(Call.region_code.startswith(codes.scope_prefix(region_code)))
    queues: dict[str, dict[str, Any]] = {}
    for tq in session.scalars(
        select(TelephonyQueue).order_by(TelephonyQueue.weight.desc(), TelephonyQueue.name)
    ):
        queues[tq.name] = _queue_row(tq.name, strategy=tq.strategy, weight=tq.weight)
    for entry, call in session.execute(q):
        item = queues.setdefault(entry.queue, _queue_row(entry.queue))
        wait = max(0.0, (now - entry.joined_at).total_seconds())
        item["waiting"].append(
            {
                "linkedid": call.linkedid,
                "caller_number": call.caller_number,
                "caller_name": call.caller_name,
                "elder_id": call.elder_id,
                "priority": entry.priority,
                "intent": call.intent,
                "joined_at": entry.joined_at.isoformat(),
                "wait_s": round(wait, 1),
                "region_code": call.region_code,
                "ringing": [o.interface for o in call.offers if o.status == "ringing"],
            }
        )
        item["waiting_count"] += 1
        item["longest_wait_s"] = max(item["longest_wait_s"], round(wait, 1))
    agents_out = []
    aq = select(Agent).options(selectinload(Agent.memberships)).order_by(Agent.interface)
    for agent in session.scalars(aq):
        if (
            region_code
            and agent.region_code
            and not agent.region_code.startswith(codes.scope_prefix(region_code))
        ):
            continue
        names = [m.queue for m in agent.memberships]
        for name in names:
            queues.setdefault(name, _queue_row(name))["agents"][agent.state] += 1
        agents_out.append(
            {
                "interface": agent.interface,
                "member_name": agent.member_name,
                "state": agent.state,
                "reason": agent.reason,
                "since": agent.since.isoformat(),
                "duration_s": round(max(0.0, (now - agent.since).total_seconds()), 1),
                "linkedid": agent.linkedid,
                "queues": names,
                "wrapup_until": agent.wrapup_until.isoformat() if agent.wrapup_until else None,
            }
        )
    start, end = day_bounds(settings, clock.local_date(now, settings.timezone))
    today = kpi_report(session, start=start, end=end, region_code=region_code)
    open_recalls = session.scalar(
        select(func.count())
        .select_from(RecallItem)
        .where(
            RecallItem.status == "open",
            *(
                [RecallItem.region_code.startswith(codes.scope_prefix(region_code))]
                if region_code
                else []
            ),
        )
    )
    return {
        "at": now.isoformat(),
        "queues": list(queues.values()),
        "agents": agents_out,
        "kpi": today.total.as_dict(),
        "open_recalls": int(open_recalls or 0),
    }
