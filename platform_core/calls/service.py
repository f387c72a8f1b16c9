"""Use cases of the call records: one function per AMI fact, each idempotent.

callcenter calls these from its event handlers (and from ``replay``) in Asterisk's order:
record_channel, record_variables, record_join, record_agent_called, record_ring_no_answer,
record_leave, record_connect, record_complete, record_abandon, record_hangup, record_member.
Every function finds its rows by natural keys (Linkedid, the agent leg's Uniqueid, the member
interface) and only moves state forward, so the same stream applied twice leaves the same
records. The rows they change are live rows of the unit of work (platform_core.calls.live),
loaded once by ``unit_of_work.prefetch`` and written as one upsert per table when it commits,
so a burst of events costs a handful of statements, not a flush per event.

The other parts of a call's record keep modules of their own: ``unit_of_work`` (the live rows
and what is settled once per commit), ``caller`` (who is calling), ``agents`` (the state a
wallboard shows), ``recalls``, ``resync`` (agreeing with Asterisk after an absence) and
``queries`` (the read side and the console's snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.calls import agents, caller, live, recalls, ringing
from platform_core.calls import events as ev
from platform_core.calls import unit_of_work as uow
from platform_core.calls.live import LiveCall, LiveEntry, LiveMembership, LiveOffer
from platform_core.calls.models import Agent
from platform_core.calls.schemas import AgentLeg, ChannelRef, MemberState, shown_caller_id
from platform_core.calls.variables import inbound_context_names, variable_changes
from platform_core.events import publish_on_commit
from platform_core.runtime import settings_of
from platform_core.settings import Settings

OUTCOMES = ("answered", "abandoned", "timeout", "ivr_only")


def new_call(
    session: Session, chan: ChannelRef, *, at: datetime, direction: str = "inbound"
) -> LiveCall:
    settings = settings_of(session)
    call = LiveCall(
        linkedid=chan.linkedid,
        uniqueid=chan.uniqueid,
        channel=chan.channel,
        direction=direction,
        caller_number=shown_caller_id(chan.caller_number),
        caller_name=shown_caller_id(chan.caller_name),
        region_code=settings.home_region_code,
        started_at=at,
    )
    live.store(session).calls[call.linkedid] = call
    if chan.variables:
        _apply_variables(session, call, chan.variables)
    return call


def inbound_contexts(session: Session) -> set[str]:
    return inbound_context_names(settings_of(session).call_inbound_contexts)


def _queueing_contexts(session: Session) -> set[str]:
    """Where a caller we never saw may be taken up from a queue event: the 12349 inbound
    contexts and the care call's (an elder who asks for a person there is offered too). A
    queue on the same Asterisk serving anyone else (desks calling each other, another
    service's line) is none of the hotline's calls."""
    return inbound_contexts(session) | {settings_of(session).care_context}


def record_channel(session: Session, *, chan: ChannelRef, at: datetime) -> LiveCall | None:
    """Newchannel: the first channel of an inbound 12349 call opens its record."""
    if chan.uniqueid != chan.linkedid:
        return uow.call_of(session, chan.linkedid)
    call = uow.call_of(session, chan.linkedid)
    if call is not None:
        return call
    if chan.context in inbound_contexts(session):
        return new_call(session, chan, at=at)
    if (
        chan.variables.get("HOTLINE_RECALL_ID")
        or chan.context == settings_of(session).call_callback_context
    ):
        return new_call(session, chan, at=at, direction="outbound")
    return None


def _apply_variables(session: Session, call: LiveCall, variables: Mapping[str, str]) -> None:
    for name, value in variable_changes(variables).items():
        if name == "elder_id":
            if value != call.elder_id:
                call.elder_id = value
                call.identified = False  # region follows the elder the IVR named
        else:
            setattr(call, name, value)


def record_variables(
    session: Session, *, chan: ChannelRef, variables: Mapping[str, str], at: datetime
) -> None:
    """VarSet (or ChanVariable lines) carrying the IVR's HOTLINE_* decisions."""
    call = uow.call_of(session, chan.linkedid)
    if call is None:
        if variables.get("HOTLINE_RECALL_ID") and chan.uniqueid == chan.linkedid:
            call = new_call(session, chan, at=at, direction="outbound")
        else:
            return
    if chan.uniqueid != call.uniqueid:
        return
    _apply_variables(session, call, variables)


def entries_in(call: LiveCall, uniqueid: str, queue: str) -> list[LiveEntry]:
    return [e for e in call.entries if e.queue == queue and e.uniqueid == uniqueid]


def _ensure_call(session: Session, chan: ChannelRef, at: datetime) -> LiveCall | None:
    """The call of a queue event's caller; one we never saw (it started before we connected)
    is taken up from here, but only from the hotline's own contexts."""
    call = uow.call_of(session, chan.linkedid)
    if call is None:
        if chan.context not in _queueing_contexts(session):
            return None
        call = new_call(session, chan, at=at)
    elif chan.variables:
        _apply_variables(session, call, chan.variables)
    return call


def is_known_call(session: Session, *, linkedid: str) -> bool:
    """Whether this is a call of the hotline's (recorded, or taken up by the event just applied)."""
    return uow.call_of(session, linkedid) is not None


def record_join(
    session: Session, *, chan: ChannelRef, queue: str, position: int, at: datetime
) -> LiveEntry | None:
    """QueueCallerJoin: the caller asks for a person; the first join makes the call offered."""
    call = _ensure_call(session, chan, at)
    if call is None or call.ended_at is not None:
        return None
    entries = entries_in(call, chan.uniqueid, queue)
    if entries and entries[-1].left_at is None:
        return entries[-1]
    if entries and entries[-1].joined_at == at:
        return entries[-1]  # a replayed join of a stay already closed
    for prior in call.entries:
        if prior.left_at is not None and prior.outcome is None:
            prior.outcome = "timeout"  # overflowed from a queue that timed out
    entry = LiveEntry(
        linkedid=call.linkedid,
        seq=len(call.entries) + 1,
        uniqueid=chan.uniqueid,
        queue=queue,
        priority=call.priority,
        position=position,
        joined_at=at,
    )
    call.entries.append(entry)
    if call.queued_at is None:
        call.queued_at = at
        call.first_queue = queue
        caller.identify(session, call)
    uow.mark_queues_changed(session, [queue])
    publish_on_commit(
        session,
        ev.CallQueued(
            linkedid=call.linkedid,
            queue=queue,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            elder_id=call.elder_id,
            priority=call.priority,
            intent=call.intent,
            joined_at=at.isoformat(),
            position=position,
            region_code=call.region_code,
        ),
    )
    return entry


def left_queue(session: Session, entry: LiveEntry, at: datetime) -> None:
    """Close a stay in a queue (the queue is recounted once, when the unit of work commits)."""
    if entry.left_at is not None:
        return
    entry.left_at = at
    uow.mark_queues_changed(session, [entry.queue])


def _current_entry(
    session: Session, call: LiveCall, chan: ChannelRef, queue: str, at: datetime
) -> LiveEntry:
    entries = entries_in(call, chan.uniqueid, queue)
    if entries:
        return entries[-1]
    # A queue event without its join (we connected mid-call): the stay starts now.
    entry = record_join(session, chan=chan, queue=queue, position=0, at=at)
    assert entry is not None
    return entry


def record_agent_called(
    session: Session,
    *,
    at: datetime,
    **leg: Unpack[AgentLeg],
) -> LiveOffer | None:
    """AgentCalled: an agent's phone rings for this caller -> the screen pop (CallRinging;
    the screen-pop service may have published it already: see platform_core.calls.ringing)."""
    chan, dest, queue, interface, member_name = _unpack(leg)
    call = _ensure_call(session, chan, at)
    if call is None or call.ended_at is not None:
        return None
    offer = next((o for o in call.offers if o.dest_uniqueid == dest.uniqueid), None)
    if offer is not None:
        return offer
    entry = _current_entry(session, call, chan, queue, at)
    if entry.left_at is not None and entry.outcome is not None:
        return None
    offer = _offer(session, call, leg, at)
    agent = agents.agent_of(session, interface, member_name)
    assert agent is not None
    agent.ringing_uniqueid = dest.uniqueid
    agents.refresh_agent(session, agent, at)
    publish_on_commit(session, ringing.pop_of(call, dest.uniqueid, queue, interface, member_name))
    return offer


def _unpack(leg: AgentLeg) -> tuple[ChannelRef, ChannelRef, str, str, str]:
    return leg["chan"], leg["dest"], leg["queue"], leg["interface"], leg["member_name"]


def _offer(session: Session, call: LiveCall, leg: AgentLeg, at: datetime) -> LiveOffer:
    dest = leg["dest"]
    offer = next((o for o in call.offers if o.dest_uniqueid == dest.uniqueid), None)
    if offer is None:
        offer = LiveOffer(
            dest_uniqueid=dest.uniqueid,
            linkedid=call.linkedid,
            queue=leg["queue"],
            interface=leg["interface"],
            member_name=leg["member_name"],
            dest_channel=dest.channel,
            offered_at=at,
            status="ringing",
        )
        call.offers.append(offer)
    return offer


def record_ring_no_answer(
    session: Session,
    *,
    ring_ms: int,
    at: datetime,
    **leg: Unpack[AgentLeg],
) -> None:
    """AgentRingNoAnswer (RingTime in milliseconds): the agent let it ring; another may be tried."""
    chan, dest, queue, interface, member_name = _unpack(leg)
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    offer = _offer(session, call, leg, at)
    if offer.status != "ringing":
        return
    offer.status = "no_answer"
    offer.ring_ms = ring_ms
    offer.ended_at = at
    _ring_ended(session, call, offer, "rang_out")
    agent = agents.agent_of(session, interface, member_name)
    assert agent is not None
    if agent.ringing_uniqueid == dest.uniqueid:
        agent.ringing_uniqueid = None
    agents.refresh_agent(session, agent, at)


def record_leave(
    session: Session, *, chan: ChannelRef, queue: str, position: int, at: datetime
) -> None:
    """QueueCallerLeave: the caller left the queue (answered, abandoned or timed out: Asterisk
    sends it before AgentConnect, so the outcome is settled by the event that follows)."""
    call = uow.call_of(session, chan.linkedid)
    if call is None:
        return
    entries = entries_in(call, chan.uniqueid, queue)
    if entries:
        left_queue(session, entries[-1], at)


def record_abandon(
    session: Session,
    *,
    chan: ChannelRef,
    queue: str,
    position: int,
    original_position: int,
    hold_s: int,
    at: datetime,
) -> None:
    """QueueCallerAbandon: the caller hung up while waiting (QueueCallerLeave follows)."""
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    entry = _current_entry(session, call, chan, queue, at)
    if entry.outcome == "abandoned":
        return
    entry.outcome = "abandoned"
    entry.wait_s = float(hold_s)
    entry.abandon_position = position
    if call.answered_at is None and call.outcome != "abandoned":
        call.outcome = "abandoned"
        call.wait_s = total_wait(call)
        publish_on_commit(
            session,
            ev.CallAbandoned(
                linkedid=call.linkedid,
                queue=queue,
                caller_number=call.caller_number,
                elder_id=call.elder_id,
                wait_s=call.wait_s,
                region_code=call.region_code,
            ),
        )
        recalls.open_for_lost_call(session, call, reason="abandoned", queue=queue, at=at)


def total_wait(call: LiveCall) -> float:
    return float(
        sum(
            e.wait_s or 0.0
            for e in call.entries
            if e.outcome in ("abandoned", "answered", "timeout")
        )
    )


def record_connect(
    session: Session,
    *,
    hold_s: int,
    ring_s: int,
    at: datetime,
    **leg: Unpack[AgentLeg],
) -> None:
    """AgentConnect: the agent answered; the call is credited to this queue and agent unless
    an earlier stay of the same call was already answered (a transfer does not re-credit)."""
    chan, dest, queue, interface, member_name = _unpack(leg)
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    entry = _current_entry(session, call, chan, queue, at)
    offer = _offer(session, call, leg, at)
    if offer.status in ("connected", "completed"):
        return
    offer.status = "connected"
    offer.connected_at = at
    offer.hold_s = hold_s
    entry.outcome = "answered"
    entry.wait_s = float(hold_s)
    entry.agent_interface = interface
    left_queue(session, entry, at)
    agent = agents.agent_of(session, interface, member_name)
    assert agent is not None
    if agent.ringing_uniqueid == dest.uniqueid:
        agent.ringing_uniqueid = None
    agent.linkedid = call.linkedid
    agent.wrapup_until = None
    agents.refresh_agent(session, agent, at)
    if call.answered_at is None:
        call.answered_at = at
        call.answered_queue = queue
        call.agent_interface = interface
        call.member_name = member_name
        call.outcome = "answered"
        call.wait_s = total_wait(call)
        publish_on_commit(
            session,
            ev.CallAnswered(
                linkedid=call.linkedid,
                queue=queue,
                agent_interface=interface,
                member_name=member_name,
                caller_number=call.caller_number,
                elder_id=call.elder_id,
                wait_s=call.wait_s,
                region_code=call.region_code,
            ),
        )
        recalls.close_when_reached(session, call=call, at=at)


def wrapup_seconds(settings: Settings, queue: str) -> float:
    table: dict[str, float] = {}
    for part in settings.call_wrapup_s.split(","):
        name, _, value = part.partition("=")
        try:
            table[name.strip()] = float(value)
        except ValueError:
            continue
    return table.get(queue, table.get("*", 0.0))


def record_complete(
    session: Session,
    *,
    hold_s: int,
    talk_s: int,
    reason: str,
    at: datetime,
    **leg: Unpack[AgentLeg],
) -> None:
    """AgentComplete: the agent's part ended (caller, agent or transfer); wrap-up begins.

    It follows an AgentConnect: when that connect never reached us (callcenter was away, or
    the database) the call was answered all the same, HoldTime seconds after it joined and
    TalkTime seconds before now, and is recorded so; a call a resync found answered (its wait
    unknown) takes its answer time and wait from here too."""
    chan, dest, queue, interface, member_name = _unpack(leg)
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    offer = _offer(session, call, leg, at)
    if offer.status == "completed":
        return
    connected_at = at - timedelta(seconds=max(0, talk_s))
    if call.wait_s is None and call.answered_at is not None and call.agent_interface == interface:
        _learn_wait(session, call, chan, queue, hold_s=hold_s, connected_at=connected_at)
    if offer.status != "connected":
        if offer.offered_at > connected_at:
            offer.offered_at = connected_at  # its ring was not seen either
        if not entries_in(call, chan.uniqueid, queue):
            record_join(
                session,
                chan=chan,
                queue=queue,
                position=0,
                at=connected_at - timedelta(seconds=max(0, hold_s)),
            )
        record_connect(session, **leg, hold_s=hold_s, ring_s=0, at=connected_at)
    offer.status = "completed"
    offer.talk_s = talk_s
    offer.complete_reason = reason
    offer.ended_at = at
    wrapup = wrapup_seconds(settings_of(session), queue)
    offer.wrapup_s = wrapup
    if call.agent_interface == interface and call.talk_s is None:
        call.talk_s = talk_s
    if reason == "transfer":
        call.transferred = True
    agent = agents.agent_of(session, interface, member_name)
    assert agent is not None
    if agent.linkedid == call.linkedid:
        agent.linkedid = None
    agent.wrapup_until = at + timedelta(seconds=wrapup) if wrapup > 0 else None
    agents.refresh_agent(session, agent, at)


def _learn_wait(
    session: Session,
    call: LiveCall,
    chan: ChannelRef,
    queue: str,
    *,
    hold_s: int,
    connected_at: datetime,
) -> None:
    """A call a resync found answered has no wait yet: AgentComplete's HoldTime is its wait in
    this queue, and TalkTime before the complete its answer."""
    for entry in entries_in(call, chan.uniqueid, queue)[-1:]:
        entry.wait_s = float(hold_s)
        entry.outcome = "answered"
    call.answered_at = connected_at
    call.answered_queue = call.answered_queue or queue
    call.wait_s = total_wait(call) if call.entries else float(hold_s)


def record_hangup(session: Session, *, chan: ChannelRef, cause: int, at: datetime) -> bool:
    """Hangup: the caller's channel ends the call (its outcome is settled here); an agent leg
    that was still ringing was cancelled. Returns False for a channel of no known call."""
    call = uow.call_of(session, chan.linkedid)
    if call is None:
        return False
    if chan.uniqueid == call.uniqueid:
        if chan.variables:
            _apply_variables(session, call, chan.variables)
        finish(session, call, at)
        return True
    offer = next((o for o in call.offers if o.dest_uniqueid == chan.uniqueid), None)
    if offer is None:
        return True
    if offer.status == "ringing":
        offer.status = "cancelled"
        offer.ended_at = at
        _ring_ended(session, call, offer, "cancelled")
    agent = agents.agent_of(session, offer.interface, create=False)
    if agent is not None:
        changed = False
        if agent.ringing_uniqueid == chan.uniqueid:
            agent.ringing_uniqueid = None
            changed = True
        if agent.linkedid == call.linkedid and offer.status in ("connected",):
            agent.linkedid = None
            changed = True
        if changed:
            agents.refresh_agent(session, agent, at)
    return True


def finish(session: Session, call: LiveCall, at: datetime, *, by_resync: bool = False) -> None:
    if call.ended_at is not None:
        return
    call.ended_at = at
    call.closed_by_resync = by_resync
    for entry in call.entries:
        if entry.left_at is None:
            # Gone without a QueueCallerLeave we saw: the caller hung up while waiting.
            if entry.outcome is None:
                entry.outcome = "abandoned"
                entry.wait_s = max(0.0, (at - entry.joined_at).total_seconds())
            left_queue(session, entry, at)
        elif entry.outcome is None:
            entry.outcome = "timeout"
            if entry.wait_s is None and entry.left_at is not None:
                entry.wait_s = max(0.0, (entry.left_at - entry.joined_at).total_seconds())
    for offer in call.offers:
        if offer.status == "ringing":
            offer.status = "cancelled"
            offer.ended_at = at
            _ring_ended(session, call, offer, "caller_left")
    if call.direction == "inbound":
        if call.queued_at is None:
            call.outcome = "ivr_only"
            if call.queue_status in ("JOINEMPTY", "JOINUNAVAIL", "FULL", "AFTER_HOURS"):
                caller.identify(session, call)
                reason = "after_hours" if call.queue_status == "AFTER_HOURS" else "no_agent"
                recalls.open_for_lost_call(
                    session, call, reason=reason, queue=call.requested_queue, at=at
                )
        elif call.answered_at is None:
            abandoned = any(e.outcome == "abandoned" for e in call.entries)
            call.outcome = "abandoned" if abandoned else "timeout"
            call.wait_s = total_wait(call)
            # Lost: abandoned, or left the queue unanswered (no agent was ever rung: no_agent).
            reason = "abandoned" if abandoned else "timeout" if call.offers else "no_agent"
            recalls.open_for_lost_call(session, call, reason=reason, queue=call.first_queue, at=at)
    uow.note_ended(session, call)
    publish_on_commit(
        session,
        ev.CallEnded(
            linkedid=call.linkedid,
            outcome=call.outcome,
            queue=call.answered_queue or call.first_queue,
            agent_interface=call.agent_interface,
            caller_number=call.caller_number,
            elder_id=call.elder_id,
            wait_s=call.wait_s,
            talk_s=call.talk_s,
            region_code=call.region_code,
        ),
    )


def _ring_ended(session: Session, call: LiveCall, offer: LiveOffer, reason: str) -> None:
    """Tell the agent's screen at once that this caller no longer rings there."""
    publish_on_commit(
        session,
        ev.CallRingEnded(
            linkedid=call.linkedid,
            agent_interface=offer.interface,
            reason=reason,
            region_code=call.region_code,
        ),
    )


def record_dial_end(
    session: Session, *, chan: ChannelRef, dest: ChannelRef, status: str, at: datetime
) -> None:
    """DialEnd of a call back: the elder answered (the recall closes) or did not."""
    call = uow.call_of(session, chan.linkedid)
    if call is None or call.direction != "outbound" or call.recall_id is None:
        return
    result = {"ANSWER": "reached", "NOANSWER": "no_answer", "BUSY": "busy"}.get(
        status.upper(), "failed"
    )
    recalls.record_recall_attempt(
        session,
        recall_id=call.recall_id,
        attempt_key=call.linkedid,
        result=result,
        at=at,
        agent_interface=interface_of(chan.channel),
        by_linkedid=call.linkedid,
    )


def interface_of(channel: str) -> str:
    """``PJSIP/8001-0000000a`` -> ``PJSIP/8001``."""
    base, sep, _ = channel.rpartition("-")
    return base if sep else channel


def record_member(
    session: Session,
    *,
    member: MemberState,
    at: datetime,
    removed: bool = False,
    from_event: bool = True,
) -> None:
    """QueueMemberStatus / QueueMemberPause / QueueMemberAdded / QueueMemberRemoved.

    A member event older than the newest one applied to this agent is stale (the same stream
    replayed) and changes nothing; a resync's snapshot (``from_event=False``) always applies.
    """
    agent = agents.agent_of(session, member.interface, member.member_name)
    assert agent is not None
    if from_event:
        if agent.member_event_at is not None and at < agent.member_event_at:
            return
        agent.member_event_at = at
    row = agent.memberships.get(member.queue)
    if removed:
        if row is None:
            return
        agents.drop_membership(agent, member.queue)
    else:
        if row is None:
            row = LiveMembership(interface=agent.interface, queue=member.queue)
            agent.memberships[member.queue] = row
        # Most member events repeat what is known (one per queue per device change): assign
        # only what differs, and re-derive the state only when something that drives it moved.
        wanted = {
            "paused": member.paused,
            "paused_reason": member.paused_reason[:40],
            "penalty": member.penalty,
            "status": member.status,
            "in_call": member.in_call,
            "calls_taken": member.calls_taken,
            "membership": member.membership,
            "login_time": member.login_time,
        }
        changed = False
        for name, value in wanted.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = changed or name in ("paused", "paused_reason", "status", "in_call")
        if agent.device_status != member.status:
            agent.device_status = member.status
            changed = True
        if not changed and agent.state != agents.LOGGED_OUT:
            return
    agents.refresh_agent(session, agent, at)


def expire_wrapups(session: Session, *, now: datetime) -> int:
    """Agents whose wrap-up time is over become ready (Asterisk sends no event for that)."""
    st = live.store(session)
    interfaces = set(
        session.scalars(
            select(Agent.interface).where(
                Agent.wrapup_until.is_not(None), Agent.wrapup_until <= now
            )
        )
    )
    interfaces |= {
        a.interface for a in st.agents.values() if a is not None and a.wrapup_until is not None
    }
    live.load_agents(session, interfaces)
    count = 0
    for interface in sorted(interfaces):
        agent = st.agents.get(interface)
        if agent is None or agent.wrapup_until is None or agent.wrapup_until > now:
            continue
        agent.wrapup_until = None
        agents.refresh_agent(session, agent, now)
        count += 1
    return count
