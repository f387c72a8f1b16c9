"""What one agent's desk holds: the call ringing at it or on its line, whether a call is the
desk's own (answered there), which is what orders and care processes may be attached to, and
the caller's last calls and the region's open recalls as the desk lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.calls import queries, recalls
from platform_core.calls.models import Agent, AgentOffer, Call, RecallItem

ANSWERED = ("connected", "completed")


def agent_took_call(session: Session, *, linkedid: str, interface: str) -> bool:
    """Whether the desk ``interface`` answered this call (its first answer or a transferred leg).
    A call that rang there and was answered by a colleague is not the desk's."""
    found = session.scalar(
        select(AgentOffer.id)
        .where(
            AgentOffer.linkedid == linkedid,
            AgentOffer.interface == interface,
            AgentOffer.status.in_(ANSWERED),
        )
        .limit(1)
    )
    return found is not None


def desk_call(session: Session, *, interface: str) -> dict[str, Any] | None:
    """The call on the desk's line, else the one ringing there, as the screen pop's event
    describes it (a reloaded or reconnected desk shows it again); None when the desk is free."""
    agent = session.get(Agent, interface)
    if agent is None:
        return None
    offer: AgentOffer | None = None
    status = "on_call"
    linkedid = agent.linkedid
    if linkedid is None and agent.ringing_uniqueid:
        offer = session.scalar(
            select(AgentOffer).where(
                AgentOffer.dest_uniqueid == agent.ringing_uniqueid,
                AgentOffer.status == "ringing",
            )
        )
        if offer is None:
            return None
        linkedid, status = offer.linkedid, "ringing"
    if linkedid is None:
        return None
    call = session.get(Call, linkedid)
    if call is None or call.ended_at is not None:
        return None
    return {
        "linkedid": call.linkedid,
        "status": status,
        "queue": offer.queue if offer else (call.answered_queue or call.first_queue or ""),
        "agent_interface": interface,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "elder_id": call.elder_id,
        "intent": call.intent,
        "priority": call.priority,
        "region_code": call.region_code,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def recent_call_summaries(
    session: Session, *, elder_id: int, limit: int = 5
) -> list[dict[str, Any]]:
    """The elder's last calls as the screen pop lists them."""
    return [
        {
            "linkedid": c.linkedid,
            "started_at": _iso(c.started_at),
            "outcome": c.outcome,
            "intent": c.intent,
            "agent": c.member_name or c.agent_interface,
            "wait_s": c.wait_s,
            "talk_s": c.talk_s,
        }
        for c in queries.recent_calls(session, elder_id=elder_id, limit=limit)
    ]


def recall_summary(r: RecallItem) -> dict[str, Any]:
    return {
        "id": r.id,
        "number": r.number,
        "caller_name": r.caller_name,
        "elder_id": r.elder_id,
        "region_code": r.region_code,
        "queue": r.queue,
        "reason": r.reason,
        "wait_s": r.wait_s,
        "opened_at": _iso(r.opened_at),
        "attempts": r.attempts,
        "last_result": r.last_result,
    }


def recall_summaries(session: Session, *, region_code: str) -> list[dict[str, Any]]:
    """The region's open recalls, as the desk's recall list shows them."""
    return [recall_summary(r) for r in recalls.list_recalls(session, region_code=region_code)]
