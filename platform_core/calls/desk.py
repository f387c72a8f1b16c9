"""What one agent's desk holds: the call ringing at it or on its line, and whether a call is the
desk's own (answered there), which is what orders and care processes may be attached to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.calls.models import Agent, AgentOffer, Call

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
