"""Making the call records agree with what Asterisk reports now: after a reconnect, an outage
of the database, or on a period (its lists of channels, queue callers and members, and
queue_log)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.calls import agents, caller, live, queue_history, recalls
from platform_core.calls import events as ev
from platform_core.calls import service as records
from platform_core.calls import unit_of_work as uow
from platform_core.calls.live import LiveCall, LiveOffer
from platform_core.calls.models import QueueEntry, TelephonyQueue
from platform_core.calls.schemas import (
    ChannelRef,
    LiveChannel,
    MemberState,
    QueueHistory,
    QueueParams,
    WaitingCaller,
)
from platform_core.events import publish_on_commit


def resync(
    session: Session,
    *,
    channels: Collection[LiveChannel],
    waiting: Collection[WaitingCaller],
    members: Collection[MemberState],
    at: datetime,
    exempt_linkedids: Collection[str] = (),
    exempt_interfaces: Collection[str] = (),
    queues: Collection[QueueParams] = (),
    histories: Collection[QueueHistory] = (),
    lists_at: datetime | None = None,
    settled: set[str] | None = None,
) -> dict[str, int]:
    """Make the records agree with what Asterisk reports now (after a reconnect, an outage of
    the database, or on a period).

    With Asterisk's queue_log (``histories``, read after the lists, which were requested at
    ``lists_at``) a call we hold open whose caller is gone is settled from it: answered by
    whom, after what wait and for how long, or abandoned, or timed out. A caller of the
    hotline's queues who came and went while we were away is taken up from it. ``settled``
    receives the callers queue_log need say no more about. Without queue_log:

    what Asterisk's lists say about a call we hold open:

    - its caller is bridged from Queue() to a desk: it was answered while we were away (by the
      desk across the bridge; its wait comes with the AgentComplete that follows);
    - it is alive but no longer waiting in a queue QueueStatus lists: that stay ended;
    - QueueStatus shows it waiting in a queue we never saw it join: it joined while we were
      away (Wait seconds ago);
    - its caller channel is gone: it ended while we were away. An answered call closes as
      answered. A waiting call whose ringing desk has taken more calls in that queue
      (QueueStatus's CallsTaken) than the records account for was answered by that desk;
      any other closes as abandoned and opens its recall (a lost elder is never assumed served).

    Callers waiting or talking that we never saw are adopted. Memberships, pauses and device
    states are replaced by QueueStatus's. Calls and agents touched by events that arrived while
    the lists were being read are left alone (those events are newer).
    """
    counts = {
        "closed": 0,
        "adopted": 0,
        "agents": 0,
        "answered_away": 0,
        "left_queue": 0,
        "joined_away": 0,
        "queue_log_settled": 0,
        "queue_log_adopted": 0,
        "queue_log_unknown_member": 0,
        "queue_log_deferred": 0,
    }
    by_history = {h.uniqueid: h for h in histories}
    alive = {c.uniqueid for c in channels}
    live_by_uniqueid = {c.uniqueid: c for c in channels}
    exempt_calls = set(exempt_linkedids)
    exempt_agents = set(exempt_interfaces)
    waiting_in = {(w.uniqueid, w.queue) for w in waiting}
    waiting_of: dict[str, list[WaitingCaller]] = {}
    for w in waiting:
        waiting_of.setdefault(w.uniqueid, []).append(w)
    by_bridge: dict[str, list[LiveChannel]] = {}
    for c in channels:
        if c.bridge_id:
            by_bridge.setdefault(c.bridge_id, []).append(c)
    st = live.store(session)
    live.load_calls(session, open_only=True)
    live.load_agents(session, every=True)
    open_calls = [c for c in st.calls.values() if c is not None and c.ended_at is None]
    taken = _taken_unaccounted(session, members, open_calls, alive, exempt_agents)
    by_uniqueid = {}
    gone: list[LiveCall] = []
    for call in open_calls:
        by_uniqueid[call.uniqueid] = call
        if call.linkedid in exempt_calls:
            continue
        seen_live = live_by_uniqueid.get(call.uniqueid)
        if seen_live is None:
            gone.append(call)
            continue
        peer = _bridged_peer(seen_live, by_bridge)
        if call.answered_at is None and seen_live.application == "Queue" and peer is not None:
            since = at - timedelta(seconds=peer.duration_s)
            _answered_while_away(
                session,
                call,
                interface=records.interface_of(peer.channel),
                leg_uniqueid=peer.uniqueid,
                answered_at=max(since, call.queued_at or since),
                on_line=True,
            )
            counts["answered_away"] += 1
        for w in waiting_of.get(call.uniqueid, []):
            # it joined while we were away (we saw its channel, not its QueueCallerJoin)
            if not any(e.queue == w.queue and e.left_at is None for e in call.entries):
                chan = ChannelRef(
                    channel=w.channel,
                    uniqueid=w.uniqueid,
                    linkedid=call.linkedid,
                    caller_number=w.caller_number,
                    caller_name=w.caller_name,
                )
                joined = at - timedelta(seconds=w.wait_s)
                records.record_join(
                    session, chan=chan, queue=w.queue, position=w.position, at=joined
                )
                counts["joined_away"] += 1
        for entry in call.entries:
            if entry.left_at is None and (entry.uniqueid, entry.queue) not in waiting_in:
                records.left_queue(session, entry, at)
                counts["left_queue"] += 1
    interfaces = queue_history.member_interfaces(members, list(st.agents.values()))
    for call in sorted(gone, key=lambda c: c.queued_at or c.started_at):
        history = by_history.get(call.uniqueid)
        if history is not None and history.closed:
            if not queue_history.settle(session, call, history, interfaces):
                counts["queue_log_unknown_member"] += 1
            counts["queue_log_settled"] += 1
            counts["closed"] += 1
            if settled is not None:
                settled.add(call.uniqueid)
            continue
        if call.answered_at is None:
            offer = _desk_that_took_it(call, taken)
            if offer is not None:
                _answered_while_away(
                    session,
                    call,
                    interface=offer.interface,
                    leg_uniqueid=offer.dest_uniqueid,
                    answered_at=offer.offered_at,
                    queue=offer.queue,
                )
                counts["answered_away"] += 1
        records.finish(session, call, at, by_resync=True)
        counts["closed"] += 1
    if histories:
        missed, recorded, counts["queue_log_deferred"] = queue_history.missed(
            session,
            histories,
            alive=alive,
            exempt=exempt_calls,
            lists_at=lists_at or at,
        )
        for history in missed:
            queue_history.take_up(session, history, interfaces)
            counts["queue_log_adopted"] += 1
        if settled is not None:
            settled |= recorded | {h.uniqueid for h in missed}
    for w in waiting:
        if w.uniqueid in by_uniqueid or w.uniqueid in exempt_calls:
            continue
        joined = at - timedelta(seconds=w.wait_s)
        chan = ChannelRef(
            channel=w.channel,
            uniqueid=w.uniqueid,
            linkedid=_linkedid_of(channels, w.uniqueid),
            caller_number=w.caller_number,
            caller_name=w.caller_name,
        )
        if uow.call_of(session, chan.linkedid) is not None:
            continue
        call = records.new_call(session, chan, at=joined)
        call.priority = w.priority
        records.record_join(session, chan=chan, queue=w.queue, position=w.position, at=joined)
        counts["adopted"] += 1
    waiting_ids = {w.uniqueid for w in waiting}
    inbound = records.inbound_contexts(session)
    for c in channels:
        # A 12349 caller we never saw (it began while we were away): take it from here. One in
        # a bridge from Queue() was answered meanwhile, by the desk on the other side of it.
        if (
            c.uniqueid != c.linkedid
            or c.context not in inbound
            or c.uniqueid in waiting_ids
            or c.linkedid in exempt_calls
            or uow.call_of(session, c.linkedid) is not None
        ):
            continue
        started = at - timedelta(seconds=c.duration_s)
        call = records.new_call(
            session,
            ChannelRef(
                channel=c.channel,
                uniqueid=c.uniqueid,
                linkedid=c.linkedid,
                caller_number=c.caller_number,
                caller_name=c.caller_name,
                context=c.context,
            ),
            at=started,
        )
        counts["adopted"] += 1
        peer = _bridged_peer(c, by_bridge)
        if c.application == "Queue" and peer is not None:
            call.queued_at = call.answered_at = started
            call.outcome = "answered"
            call.agent_interface = records.interface_of(peer.channel)
            caller.identify(session, call)
    seen: dict[str, list[MemberState]] = {}
    for m in members:
        seen.setdefault(m.interface, []).append(m)
    known = {a.interface: a for a in st.agents.values() if a is not None}
    for interface in set(known) | set(seen):
        if interface in exempt_agents:
            continue
        found = known.get(interface) or agents.agent_of(
            session, interface, seen[interface][0].member_name
        )
        assert found is not None
        agent = found
        reported = {m.queue: m for m in seen.get(interface, [])}
        for queue in list(agent.memberships):
            if queue not in reported:
                agents.drop_membership(agent, queue)
        for m in reported.values():
            records.record_member(session, member=m, at=at, from_event=False)
        if agent.linkedid is not None and agent.linkedid not in {c.linkedid for c in channels}:
            agent.linkedid = None
        if agent.ringing_uniqueid is not None and agent.ringing_uniqueid not in alive:
            agent.ringing_uniqueid = None
        agents.refresh_agent(session, agent, at)
        counts["agents"] += 1
    for params in queues:
        q = uow.queue_of(session, params.name)
        if params.strategy:
            q.strategy = params.strategy
        if params.weight is not None:
            q.weight = params.weight
        if params.service_level_s is not None:
            q.service_level_s = params.service_level_s
    _recount_queues(session)
    return counts


def _bridged_peer(
    chan: LiveChannel, by_bridge: Mapping[str, list[LiveChannel]]
) -> LiveChannel | None:
    """The channel on the other side of ``chan``'s bridge (the desk of an answered caller)."""
    if not chan.bridge_id:
        return None
    return next((p for p in by_bridge.get(chan.bridge_id, []) if p.uniqueid != chan.uniqueid), None)


def _taken_unaccounted(
    session: Session,
    members: Collection[MemberState],
    open_calls: Collection[LiveCall],
    alive: Collection[str],
    exempt_agents: Collection[str],
) -> dict[tuple[str, str], int]:
    """Calls each desk finished in each queue that no record accounts for: QueueStatus's
    CallsTaken beyond the count the last member event (or resync) left us, less the answered
    calls of ours that ended unseen. What is left was answered while we were away."""
    st = live.store(session)
    extra: dict[tuple[str, str], int] = {}
    for m in members:
        agent = st.agents.get(m.interface)
        held = agent.memberships.get(m.queue) if agent is not None else None
        if held is None or m.interface in exempt_agents:
            continue  # no count of ours to compare with (or events newer than the list)
        if m.calls_taken > held.calls_taken:
            extra[(m.interface, m.queue)] = m.calls_taken - held.calls_taken
    for call in open_calls:
        if call.answered_at is not None and call.uniqueid not in alive:
            key = (call.agent_interface or "", call.answered_queue or "")
            if extra.get(key):
                extra[key] -= 1
    return extra


def _desk_that_took_it(call: LiveCall, taken: dict[tuple[str, str], int]) -> LiveOffer | None:
    """The desk that was ringing for this caller when we lost sight of it, if that desk has
    finished a call in that queue that no record accounts for (one such call per call)."""
    ringing = sorted(
        (o for o in call.offers if o.status == "ringing"), key=lambda o: o.offered_at, reverse=True
    )
    for offer in ringing:
        key = (offer.interface, offer.queue)
        if taken.get(key, 0) > 0:
            taken[key] -= 1
            return offer
    return None


def _answered_while_away(
    session: Session,
    call: LiveCall,
    *,
    interface: str,
    leg_uniqueid: str,
    answered_at: datetime,
    queue: str | None = None,
    on_line: bool = False,
) -> None:
    """Record what Asterisk's lists show happened while callcenter was away: the caller was
    answered at this desk (``on_line``: and is talking there now). The wait stays unknown
    until an AgentComplete brings HoldTime."""
    entry = next((e for e in reversed(call.entries) if queue is None or e.queue == queue), None)
    if entry is not None:
        entry.outcome = "answered"
        entry.agent_interface = interface
        records.left_queue(session, entry, answered_at)
        queue = entry.queue
    offer = next((o for o in call.offers if o.dest_uniqueid == leg_uniqueid), None)
    member_name = offer.member_name if offer is not None else ""
    if offer is not None and offer.status == "ringing" and queue is not None:
        offer.status = "connected"
        offer.connected_at = answered_at
    agent = agents.agent_of(session, interface, member_name)
    assert agent is not None
    if agent.ringing_uniqueid == leg_uniqueid:
        agent.ringing_uniqueid = None
    if on_line:
        agent.linkedid = call.linkedid
    call.answered_at = answered_at
    call.answered_queue = queue
    call.agent_interface = interface
    call.member_name = member_name or agent.member_name
    call.outcome = "answered"
    call.wait_s = None
    publish_on_commit(
        session,
        ev.CallAnswered(
            linkedid=call.linkedid,
            queue=queue or "",
            agent_interface=interface,
            member_name=call.member_name or "",
            caller_number=call.caller_number,
            elder_id=call.elder_id,
            wait_s=None,
            region_code=call.region_code,
        ),
    )
    recalls.close_when_reached(session, call=call, at=answered_at)


def _linkedid_of(channels: Collection[LiveChannel], uniqueid: str) -> str:
    return next((c.linkedid for c in channels if c.uniqueid == uniqueid and c.linkedid), uniqueid)


def _recount_queues(session: Session) -> None:
    names = set(session.scalars(select(TelephonyQueue.name)))
    names |= set(
        session.scalars(select(QueueEntry.queue).where(QueueEntry.left_at.is_(None)).distinct())
    )
    uow.mark_queues_changed(session, names)
