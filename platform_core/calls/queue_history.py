"""Calls settled from Asterisk's queue_log at a resync: what happened while callcenter was away.

A resync sees only the calls still there. For a caller we held open whose channel is gone,
queue_log says how each stay in a queue ended: answered by a member (after HoldTime, talking
TalkTime, ended by the caller, the agent or a transfer), abandoned after a wait, or timed out.
A caller who came and went entirely while we were away is taken up from it as well. Both go
through the same record_* use cases as AMI events, so a record settled this way reads as one
built from the events themselves (the caller's name and the IVR's findings excepted: queue_log
does not carry them, so such a caller is identified by number).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.calls import live, service
from platform_core.calls.live import LiveAgent, LiveCall
from platform_core.calls.models import Call
from platform_core.calls.queues import queue_labels
from platform_core.calls.schemas import (
    AgentLeg,
    ChannelRef,
    MemberState,
    QueueHistory,
    QueueStay,
)
from platform_core.runtime import settings_of

# A caller entered in a queue this long before the resync read Asterisk's lists existed when
# they were read: gone from them, every AMI event of theirs had reached us before the lists
# did, so a record we lack is one we missed (queue_log stamps whole seconds, plus clock skew).
SETTLED_MARGIN = timedelta(seconds=2)


def member_interfaces(
    members: Collection[MemberState], agents: Collection[LiveAgent | None]
) -> dict[str, str]:
    """MemberName -> interface, for the names that belong to one interface only (queue_log
    names members as QueueAdd's MemberName; without one Asterisk uses the interface)."""
    seen: dict[str, set[str]] = {}
    for m in members:
        if m.member_name:
            seen.setdefault(m.member_name, set()).add(m.interface)
    for a in agents:
        if a is not None and a.member_name:
            seen.setdefault(a.member_name, set()).add(a.interface)
    return {name: next(iter(found)) for name, found in seen.items() if len(found) == 1}


def settle(
    session: Session, call: LiveCall, history: QueueHistory, interfaces: Mapping[str, str]
) -> bool:
    """Record every stay of ``history`` on ``call`` and close it when queue_log last spoke of
    it. Returns False when a member who answered cannot be told (the call is still settled,
    its agent unknown)."""
    chan = ChannelRef(
        channel=call.channel,
        uniqueid=call.uniqueid,
        linkedid=call.linkedid,
        caller_number=call.caller_number,
    )
    known = True
    seen: dict[str, int] = {}
    for stay in history.stays:
        seen[stay.queue] = seen.get(stay.queue, 0) + 1
        if len(service.entries_in(call, call.uniqueid, stay.queue)) < seen[stay.queue]:
            service.record_join(
                session, chan=chan, queue=stay.queue, position=stay.position, at=stay.entered_at
            )
        _rang_out(session, call, chan, stay, interfaces)
        if stay.outcome == "answered":
            known = _answered(session, call, chan, stay, interfaces) and known
        elif stay.outcome == "abandoned":
            assert stay.ended_at is not None
            service.record_abandon(
                session,
                chan=chan,
                queue=stay.queue,
                position=0,
                original_position=stay.position,
                hold_s=stay.hold_s or 0,
                at=stay.ended_at,
            )
            service.left_queue(
                session, service.entries_in(call, call.uniqueid, stay.queue)[-1], stay.ended_at
            )
        elif stay.outcome == "timeout":
            assert stay.ended_at is not None
            entry = service.entries_in(call, call.uniqueid, stay.queue)[-1]
            if entry.outcome is None:
                entry.outcome = "timeout"
                entry.wait_s = float(stay.hold_s) if stay.hold_s is not None else None
            service.left_queue(session, entry, stay.ended_at)
    service.finish(session, call, history.last_at, by_resync=True)
    return known


def _rang_out(
    session: Session,
    call: LiveCall,
    chan: ChannelRef,
    stay: QueueStay,
    interfaces: Mapping[str, str],
) -> None:
    """A desk we saw ringing that let it ring out (RINGNOANSWER)."""
    for name, ring_ms, at in stay.rang_out:
        interface = interfaces.get(name)
        offer = next(
            (
                o
                for o in call.offers
                if o.interface == interface and o.queue == stay.queue and o.status == "ringing"
            ),
            None,
        )
        if offer is None or interface is None:
            continue
        service.record_ring_no_answer(
            session,
            chan=chan,
            dest=ChannelRef(
                channel=offer.dest_channel, uniqueid=offer.dest_uniqueid, linkedid=call.linkedid
            ),
            queue=stay.queue,
            interface=interface,
            member_name=name,
            ring_ms=ring_ms,
            at=at,
        )


def _answered(
    session: Session,
    call: LiveCall,
    chan: ChannelRef,
    stay: QueueStay,
    interfaces: Mapping[str, str],
) -> bool:
    connected_at = stay.connected_at or stay.entered_at
    interface = interfaces.get(stay.member_name) or (
        stay.member_name if "/" in stay.member_name else None
    )
    if interface is None:
        entry = service.entries_in(call, call.uniqueid, stay.queue)[-1]
        entry.outcome, entry.wait_s = "answered", float(stay.hold_s or 0)
        service.left_queue(session, entry, connected_at)
        if call.answered_at is None:
            call.answered_at, call.answered_queue = connected_at, stay.queue
            call.member_name = stay.member_name[:80] or None
            call.outcome = "answered"
            call.wait_s = service.total_wait(call)
            call.talk_s = stay.talk_s
        return False
    offer = next(
        (o for o in call.offers if o.dest_uniqueid == stay.member_uniqueid),
        None,
    )
    dest = ChannelRef(
        channel=offer.dest_channel if offer is not None else "",
        uniqueid=stay.member_uniqueid or f"{call.uniqueid}>{interface}",
        linkedid=call.linkedid,
    )
    leg: AgentLeg = {
        "chan": chan,
        "dest": dest,
        "queue": stay.queue,
        "interface": interface,
        "member_name": stay.member_name,
    }
    service.record_connect(
        session,
        **leg,
        hold_s=stay.hold_s or 0,
        ring_s=0,
        at=connected_at,
    )
    if stay.complete_reason is not None and stay.ended_at is not None:
        service.record_complete(
            session,
            **leg,
            hold_s=stay.hold_s or 0,
            talk_s=stay.talk_s or 0,
            reason=stay.complete_reason,
            at=stay.ended_at,
        )
    return True


def missed(
    session: Session,
    histories: Collection[QueueHistory],
    *,
    alive: Collection[str],
    exempt: Collection[str],
    lists_at: datetime,
) -> tuple[list[QueueHistory], set[str], int]:
    """Callers of the hotline's queues whose every stay queue_log closed, gone from Asterisk's
    lists, entered early enough that their events would have reached us, and of whom we hold
    no record: the calls to take up. Also the callers already recorded (nothing more to do),
    and how many were too recent to judge yet (the next resync will)."""
    hotline = set(queue_labels(settings_of(session)))
    closed = {
        h.uniqueid: h
        for h in histories
        if h.closed
        and h.uniqueid not in alive
        and h.uniqueid not in exempt
        and h.stays[0].queue in hotline
    }
    recorded: set[str] = set()
    ids = sorted(closed)
    for i in range(0, len(ids), 500):
        recorded |= set(
            session.scalars(select(Call.linkedid).where(Call.linkedid.in_(ids[i : i + 500])))
        )
    held = live.store(session).calls  # taken up by events of this unit of work, not yet written
    recorded |= {x for x in ids if held.get(x) is not None}
    unknown = [h for x, h in closed.items() if x not in recorded]
    ready = [h for h in unknown if h.first_at <= lists_at - SETTLED_MARGIN]
    return ready, recorded, len(unknown) - len(ready)


def take_up(session: Session, history: QueueHistory, interfaces: Mapping[str, str]) -> LiveCall:
    """A caller who came and went while callcenter was away, recorded from queue_log (the
    first channel of a call is its Linkedid)."""
    call = service.new_call(
        session,
        ChannelRef(
            channel="",
            uniqueid=history.uniqueid,
            linkedid=history.uniqueid,
            caller_number=history.caller_number,
        ),
        at=history.first_at,
    )
    settle(session, call, history, interfaces)
    return call
