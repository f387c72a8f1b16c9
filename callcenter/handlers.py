"""The one subscription table: AMI event type -> a thin handler -> one calls.service function.

Handlers hold no rules; they unpack the typed event and hand plain values to the service.
They return False for an event about a channel of no known call (counted by the pipeline):
a queue event from outside the hotline's contexts never becomes a call.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from callcenter import events as e
from platform_core.calls import service as calls
from platform_core.calls.schemas import AgentLeg

Handler = Callable[[Session, e.AmiEvent], bool | None]


def _agent_leg(ev: e._AgentEvent) -> AgentLeg:
    # every Agent* event names the caller's channel, the member's channel, the queue and the
    # member alike
    return {
        "chan": ev.chan,
        "dest": ev.dest,
        "queue": ev.queue,
        "interface": ev.member_interface,
        "member_name": ev.member_name,
    }


def on_newchannel(session: Session, ev: e.Newchannel) -> None:
    calls.record_channel(session, chan=ev.chan, at=ev.at)


def on_varset(session: Session, ev: e.VarSet) -> None:
    calls.record_variables(session, chan=ev.chan, variables={ev.variable: ev.value}, at=ev.at)


def on_queue_caller_join(session: Session, ev: e.QueueCallerJoin) -> bool:
    calls.record_join(session, chan=ev.chan, queue=ev.queue, position=ev.position, at=ev.at)
    return calls.is_known_call(session, linkedid=ev.chan.linkedid)


def on_agent_called(session: Session, ev: e.AgentCalled) -> bool:
    calls.record_agent_called(session, **_agent_leg(ev), at=ev.at)
    return calls.is_known_call(session, linkedid=ev.chan.linkedid)


def on_agent_ring_no_answer(session: Session, ev: e.AgentRingNoAnswer) -> bool:
    calls.record_ring_no_answer(session, **_agent_leg(ev), ring_ms=ev.ring_time_ms, at=ev.at)
    return calls.is_known_call(session, linkedid=ev.chan.linkedid)


def on_queue_caller_leave(session: Session, ev: e.QueueCallerLeave) -> None:
    calls.record_leave(session, chan=ev.chan, queue=ev.queue, position=ev.position, at=ev.at)


def on_queue_caller_abandon(session: Session, ev: e.QueueCallerAbandon) -> bool:
    calls.record_abandon(
        session,
        chan=ev.chan,
        queue=ev.queue,
        position=ev.position,
        original_position=ev.original_position,
        hold_s=ev.hold_time,
        at=ev.at,
    )
    return calls.is_known_call(session, linkedid=ev.chan.linkedid)


def on_agent_connect(session: Session, ev: e.AgentConnect) -> bool:
    calls.record_connect(
        session,
        **_agent_leg(ev),
        hold_s=ev.hold_time,
        ring_s=ev.ring_time,
        at=ev.at,
    )
    return calls.is_known_call(session, linkedid=ev.chan.linkedid)


def on_agent_complete(session: Session, ev: e.AgentComplete) -> bool:
    calls.record_complete(
        session,
        **_agent_leg(ev),
        hold_s=ev.hold_time,
        talk_s=ev.talk_time,
        reason=ev.reason,
        at=ev.at,
    )
    return calls.is_known_call(session, linkedid=ev.chan.linkedid)


def on_hangup(session: Session, ev: e.Hangup) -> bool:
    return calls.record_hangup(session, chan=ev.chan, cause=ev.cause, at=ev.at)


def on_member(
    session: Session, ev: e.QueueMemberStatus | e.QueueMemberPause | e.QueueMemberAdded
) -> None:
    calls.record_member(session, member=ev.member, at=ev.at)


def on_member_removed(session: Session, ev: e.QueueMemberRemoved) -> None:
    calls.record_member(session, member=ev.member, at=ev.at, removed=True)


def on_dial_end(session: Session, ev: e.DialEnd) -> None:
    calls.record_dial_end(session, chan=ev.chan, dest=ev.dest, status=ev.dial_status, at=ev.at)


SUBSCRIPTIONS: dict[type[e.AmiEvent], Handler] = {
    e.Newchannel: on_newchannel,  # type: ignore[dict-item]
    e.VarSet: on_varset,  # type: ignore[dict-item]
    e.QueueCallerJoin: on_queue_caller_join,  # type: ignore[dict-item]
    e.AgentCalled: on_agent_called,  # type: ignore[dict-item]
    e.AgentRingNoAnswer: on_agent_ring_no_answer,  # type: ignore[dict-item]
    e.QueueCallerLeave: on_queue_caller_leave,  # type: ignore[dict-item]
    e.QueueCallerAbandon: on_queue_caller_abandon,  # type: ignore[dict-item]
    e.AgentConnect: on_agent_connect,  # type: ignore[dict-item]
    e.AgentComplete: on_agent_complete,  # type: ignore[dict-item]
    e.Hangup: on_hangup,  # type: ignore[dict-item]
    e.QueueMemberStatus: on_member,  # type: ignore[dict-item]
    e.QueueMemberPause: on_member,  # type: ignore[dict-item]
    e.QueueMemberAdded: on_member,  # type: ignore[dict-item]
    e.QueueMemberRemoved: on_member_removed,  # type: ignore[dict-item]
    e.DialEnd: on_dial_end,  # type: ignore[dict-item]
}


def dispatch(session: Session, event: e.AmiEvent) -> bool:
    """Run the handler of ``event``; False when it concerned no known call."""
    handler = SUBSCRIPTIONS.get(type(event))
    if handler is None:
        return True
    return handler(session, event) is not False
