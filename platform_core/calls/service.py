"""Use cases of the call records: one function per AMI fact, each idempotent.

callcenter calls these from its event handlers (and from ``replay``) in Asterisk's order:
record_channel, record_variables, record_join, record_agent_called, record_ring_no_answer,
record_leave, record_connect, record_complete, record_abandon, record_hangup, record_member.
Every function finds its rows by natural keys (Linkedid, the agent leg's Uniqueid, the member
interface) and only moves state forward, so the same stream applied twice leaves the same
records. The rows they change are live rows of the unit of work (platform_core.calls.live),
loaded once by :func:`prefetch` and written as one upsert per table when it commits, so a
burst of events costs a handful of statements, not a flush per event.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from platform_core import clock
from platform_core.calls import events as ev
from platform_core.calls import live
from platform_core.calls.live import LiveAgent, LiveCall, LiveEntry, LiveMembership, LiveOffer
from platform_core.calls.models import (
    Agent,
    Call,
    QueueEntry,
    RecallAttempt,
    RecallItem,
    TelephonyQueue,
)
from platform_core.calls.schemas import (
    NO_NUMBER,
    ChannelRef,
    LiveChannel,
    MemberState,
    QueueHistory,
    QueueParams,
    WaitingCaller,
)
from platform_core.errors import NotFound
from platform_core.events import publish_on_commit
from platform_core.runtime import settings_of
from platform_core.settings import Settings

log = logging.getLogger(__name__)

# Agent states (DOMAIN.md 1, issue 3).
LOGGED_OUT, READY, RINGING, ON_CALL, WRAP_UP, PAUSED = (
    "logged_out",
    "ready",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
)
AGENT_STATES = (LOGGED_OUT, READY, RINGING, ON_CALL, WRAP_UP, PAUSED)
OUTCOMES = ("answered", "abandoned", "timeout", "ivr_only")
_DEVICE_IN_USE = {2, 3, 8}  # INUSE, BUSY, ONHOLD
_DEVICE_RINGING = {6, 7}  # RINGING, RINGINUSE
_DEVICE_GONE = {4, 5}  # INVALID, UNAVAILABLE
_CACHE = "calls.cache"
_DIRTY_QUEUES = "calls.dirty_queues"
_NEW_RECALLS = "calls.new_recalls"
_REACHED = "calls.reached"
_SPANS = "calls.spans"
_AGENT_CHANGES = "calls.agent_changes"


# -- unit-of-work cache -------------------------------------------------------------------------


def _cache(session: Session) -> dict[tuple[str, str], Any]:
    cache: dict[tuple[str, str], Any] | None = session.info.get(_CACHE)
    if cache is None:
        cache = session.info[_CACHE] = {}
    return cache


@sa_event.listens_for(Session, "after_rollback")
def _forget_cache(session: Session) -> None:
    live.forget(session)
    for key in (_CACHE, _DIRTY_QUEUES, _NEW_RECALLS, _REACHED, _SPANS, _AGENT_CHANGES):
        session.info.pop(key, None)


@sa_event.listens_for(Session, "before_commit")
def _settle_unit_of_work(session: Session) -> None:
    """Work done once per unit of work rather than once per event: number the new recall items,
    close the recalls of callers who got through, recount the queues whose callers changed."""
    live.write(session)
    new_recalls: list[RecallItem] | None = session.info.pop(_NEW_RECALLS, None)
    reached: list[tuple[LiveCall, datetime]] | None = session.info.pop(_REACHED, None)
    dirty: set[str] | None = session.info.pop(_DIRTY_QUEUES, None)
    spans: list[dict[str, Any]] | None = session.info.pop(_SPANS, None)
    agent_changes = session.info.pop(_AGENT_CHANGES, None)
    if agent_changes:
        _publish_agent_changes(session, agent_changes)
    if not (new_recalls or reached or dirty or spans):
        return
    session.flush()
    if spans:
        live.insert_spans(session, spans)
    for item in new_recalls or []:
        publish_on_commit(
            session,
            ev.RecallOpened(
                recall_id=item.id,
                linkedid=item.origin_linkedid,
                number=item.number,
                elder_id=item.elder_id,
                reason=item.reason,
                queue=item.queue,
                region_code=item.region_code,
            ),
        )
    if reached:
        _close_reached(session, reached)
    if dirty:
        _recount(session, dirty)


def _recount(session: Session, names: Collection[str]) -> None:
    """Waiting callers and the oldest join per queue, from the open queue entries."""
    rows = session.execute(
        select(QueueEntry.queue, func.count(), func.min(QueueEntry.joined_at))
        .where(QueueEntry.left_at.is_(None), QueueEntry.queue.in_(sorted(names)))
        .group_by(QueueEntry.queue)
    ).all()
    found = {name: (n, oldest) for name, n, oldest in rows}
    region = settings_of(session).home_region_code
    for name in sorted(names):
        q = _queue(session, name)
        q.waiting, q.oldest_joined_at = found.get(name, (0, None))
        publish_on_commit(
            session,
            ev.QueueStatsChanged(
                queue=name,
                waiting=q.waiting,
                oldest_joined_at=q.oldest_joined_at.isoformat() if q.oldest_joined_at else None,
                region_code=region,
            ),
        )


def prefetch(
    session: Session, *, linkedids: Collection[str] = (), interfaces: Collection[str] = ()
) -> None:
    """Load the calls (with entries and offers) and agents a batch of events will touch."""
    live.load_calls(session, linkedids)
    live.load_agents(session, interfaces)


def release_finished(session: Session, *, keep_commits: int = 20) -> None:
    """After a commit, let a long-lived writer forget what later events can no longer touch."""
    live.release_finished(session, keep_commits=keep_commits)


def _call(session: Session, linkedid: str) -> LiveCall | None:
    st = live.store(session)
    if linkedid not in st.calls:
        live.load_calls(session, [linkedid])
    return st.calls.get(linkedid)


def find_call(session: Session, *, linkedid: str) -> Call | None:
    """The call's record as stored (the read side)."""
    return session.get(Call, linkedid)


def get_call(session: Session, *, linkedid: str) -> Call:
    call = find_call(session, linkedid=linkedid)
    if call is None:
        raise NotFound(f"通话不存在: {linkedid} / no such call", code="call_not_found")
    return call


def _agent(
    session: Session, interface: str, member_name: str = "", *, create: bool = True
) -> LiveAgent | None:
    st = live.store(session)
    if interface not in st.agents:
        live.load_agents(session, [interface])
    agent = st.agents.get(interface)
    if agent is None and create:
        agent = LiveAgent(
            interface=interface,
            member_name=member_name or interface,
            state=LOGGED_OUT,
            since=clock.now(),
            region_code=_account_region(session, interface),
        )
        st.agents[interface] = agent
    elif agent is not None and member_name and agent.member_name != member_name:
        agent.member_name = member_name
    return agent


def _queue(session: Session, name: str) -> TelephonyQueue:
    cache = _cache(session)
    key = ("queue", name)
    if key not in cache:
        cache[key] = session.get(TelephonyQueue, name)
    q: TelephonyQueue | None = cache[key]
    if q is None:
        q = TelephonyQueue(name=name, waiting=0)
        session.add(q)
        cache[key] = q
    return q


def _account_region(session: Session, interface: str) -> str | None:
    """The region of the user whose account carries this SIP interface, if accounts exist."""
    try:
        from platform_core.accounts.models import User
    except ImportError:
        return None
    try:
        with session.no_autoflush:
            return session.scalar(select(User.region_code).where(User.sip_interface == interface))
    except Exception:  # noqa: BLE001 - an agent's region is a nicety, never a reason to drop an event
        log.exception("查询坐席账号区划失败 / account region lookup failed")
        return None


# -- caller -------------------------------------------------------------------------------------


def usable_number(number: str) -> bool:
    digits = number.strip().lstrip("+")
    return number.strip().lower() not in NO_NUMBER and digits.isdigit()


def _identify(session: Session, call: LiveCall) -> None:
    """Who is calling: the IVR's HOTLINE_ELDER_ID when it set one, else the foundation's
    caller identification -- unless the IVR ran (HOTLINE_IVR_SESSION) and found nobody: it
    identified the caller before its first prompt, and asking again costs a lookup per call.
    Never lets a lookup problem stop the call being recorded."""
    if call.identified:
        return
    call.identified = True
    if call.elder_id is None and usable_number(call.caller_number) and not call.ivr_ran:
        try:
            from platform_core.elders.identification import identify_caller
        except ImportError:
            identify_caller = None  # type: ignore[assignment]
        if identify_caller is not None:
            try:
                with session.no_autoflush:
                    who = identify_caller(
                        session,
                        number=call.caller_number,
                        area_code=settings_of(session).trunk_area_code,
                    )
                call.elder_id = who.elder_id
                call.is_device = who.is_device
            except Exception:  # noqa: BLE001
                log.exception("来电识别失败 / caller identification failed for %s", call.linkedid)
    if call.elder_id is not None:
        region = _elder_region(session, call.elder_id)
        if region:
            call.region_code = region


def _elder_region(session: Session, elder_id: int) -> str | None:
    try:
        from platform_core.elders.models import Elder
    except ImportError:
        return None
    try:
        with session.no_autoflush:
            return session.scalar(select(Elder.region_code).where(Elder.id == elder_id))
    except Exception:  # noqa: BLE001
        log.exception("查询老人区划失败 / elder region lookup failed")
        return None


# -- calls --------------------------------------------------------------------------------------


def _new_call(
    session: Session, chan: ChannelRef, *, at: datetime, direction: str = "inbound"
) -> LiveCall:
    settings = settings_of(session)
    call = LiveCall(
        linkedid=chan.linkedid,
        uniqueid=chan.uniqueid,
        channel=chan.channel,
        direction=direction,
        caller_number=chan.caller_number if chan.caller_number.lower() not in NO_NUMBER else "",
        caller_name=chan.caller_name if chan.caller_name.lower() not in NO_NUMBER else "",
        region_code=settings.home_region_code,
        started_at=at,
    )
    live.store(session).calls[call.linkedid] = call
    if chan.variables:
        _apply_variables(session, call, chan.variables)
    return call


def _inbound_contexts(session: Session) -> set[str]:
    return {c.strip() for c in settings_of(session).call_inbound_contexts.split(",") if c.strip()}


def _queueing_contexts(session: Session) -> set[str]:
    """Where a caller we never saw may be taken up from a queue event: the 12349 inbound
    contexts and the care call's (an elder who asks for a person there is offered too). A
    queue on the same Asterisk serving anyone else (desks calling each other, another
    service's line) is none of the hotline's calls."""
    return _inbound_contexts(session) | {settings_of(session).care_context}


def _small_int(value: str) -> int | None:
    """A channel variable as an id or a priority, or None when it is no integer a column holds."""
    digits = value[1:] if value[:1] == "-" else value
    if not digits.isdigit() or len(digits) > 9:
        return None
    return int(value)


def record_channel(session: Session, *, chan: ChannelRef, at: datetime) -> LiveCall | None:
    """Newchannel: the first channel of an inbound 12349 call opens its record."""
    if chan.uniqueid != chan.linkedid:
        return _call(session, chan.linkedid)
    call = _call(session, chan.linkedid)
    if call is not None:
        return call
    if chan.context in _inbound_contexts(session):
        return _new_call(session, chan, at=at)
    if (
        chan.variables.get("HOTLINE_RECALL_ID")
        or chan.context == settings_of(session).call_callback_context
    ):
        return _new_call(session, chan, at=at, direction="outbound")
    return None


def _apply_variables(session: Session, call: LiveCall, variables: Mapping[str, str]) -> None:
    for name, value in variables.items():
        value = value.strip()
        if name == "HOTLINE_ELDER_ID":
            elder_id = _small_int(value)
            if elder_id is not None and elder_id > 0 and elder_id != call.elder_id:
                call.elder_id = elder_id
                call.identified = False  # region follows the elder the IVR named
        elif name == "HOTLINE_INTENT":
            call.intent = value[:40] or None
        elif name == "HOTLINE_PRIORITY":
            priority = _small_int(value)
            if priority is not None:
                call.priority = priority
        elif name == "HOTLINE_QUEUE":
            call.requested_queue = value[:64] or None
        elif name == "HOTLINE_RECALL_ID":
            recall_id = _small_int(value)
            if recall_id is not None and recall_id > 0:
                call.recall_id = recall_id
        elif name == "QUEUESTATUS":
            call.queue_status = value[:20] or None
        elif name == "HOTLINE_AFTER_HOURS" and value in ("1", "yes", "true"):
            call.queue_status = "AFTER_HOURS"
        elif name == "HOTLINE_IVR_SESSION" and value:
            call.ivr_ran = True


def record_variables(
    session: Session, *, chan: ChannelRef, variables: Mapping[str, str], at: datetime
) -> None:
    """VarSet (or ChanVariable lines) carrying the IVR's HOTLINE_* decisions."""
    call = _call(session, chan.linkedid)
    if call is None:
        if variables.get("HOTLINE_RECALL_ID") and chan.uniqueid == chan.linkedid:
            call = _new_call(session, chan, at=at, direction="outbound")
        else:
            return
    if chan.uniqueid != call.uniqueid:
        return
    _apply_variables(session, call, variables)


def _entries_in(call: LiveCall, uniqueid: str, queue: str) -> list[LiveEntry]:
    return [e for e in call.entries if e.queue == queue and e.uniqueid == uniqueid]


def _ensure_call(session: Session, chan: ChannelRef, at: datetime) -> LiveCall | None:
    """The call of a queue event's caller; one we never saw (it started before we connected)
    is taken up from here, but only from the hotline's own contexts."""
    call = _call(session, chan.linkedid)
    if call is None:
        if chan.context not in _queueing_contexts(session):
            return None
        call = _new_call(session, chan, at=at)
    elif chan.variables:
        _apply_variables(session, call, chan.variables)
    return call


def is_known_call(session: Session, *, linkedid: str) -> bool:
    """Whether this is a call of the hotline's (recorded, or taken up by the event just applied)."""
    return _call(session, linkedid) is not None


def record_join(
    session: Session, *, chan: ChannelRef, queue: str, position: int, at: datetime
) -> LiveEntry | None:
    """QueueCallerJoin: the caller asks for a person; the first join makes the call offered."""
    call = _ensure_call(session, chan, at)
    if call is None or call.ended_at is not None:
        return None
    entries = _entries_in(call, chan.uniqueid, queue)
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
        _identify(session, call)
    session.info.setdefault(_DIRTY_QUEUES, set()).add(queue)
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


def _left(session: Session, entry: LiveEntry, at: datetime) -> None:
    """Close a stay in a queue (the queue is recounted once, when the unit of work commits)."""
    if entry.left_at is not None:
        return
    entry.left_at = at
    session.info.setdefault(_DIRTY_QUEUES, set()).add(entry.queue)


def _current_entry(
    session: Session, call: LiveCall, chan: ChannelRef, queue: str, at: datetime
) -> LiveEntry:
    entries = _entries_in(call, chan.uniqueid, queue)
    if entries:
        return entries[-1]
    # A queue event without its join (we connected mid-call): the stay starts now.
    entry = record_join(session, chan=chan, queue=queue, position=0, at=at)
    assert entry is not None
    return entry


def record_agent_called(
    session: Session,
    *,
    chan: ChannelRef,
    dest: ChannelRef,
    queue: str,
    interface: str,
    member_name: str,
    at: datetime,
) -> LiveOffer | None:
    """AgentCalled: an agent's phone rings for this caller -> the screen pop (CallRinging)."""
    call = _ensure_call(session, chan, at)
    if call is None or call.ended_at is not None:
        return None
    offer = next((o for o in call.offers if o.dest_uniqueid == dest.uniqueid), None)
    if offer is not None:
        return offer
    entry = _current_entry(session, call, chan, queue, at)
    if entry.left_at is not None and entry.outcome is not None:
        return None
    offer = LiveOffer(
        dest_uniqueid=dest.uniqueid,
        linkedid=call.linkedid,
        queue=queue,
        interface=interface,
        member_name=member_name,
        dest_channel=dest.channel,
        offered_at=at,
        status="ringing",
    )
    call.offers.append(offer)
    agent = _agent(session, interface, member_name)
    assert agent is not None
    agent.ringing_uniqueid = dest.uniqueid
    _refresh_agent(session, agent, at)
    publish_on_commit(
        session,
        ev.CallRinging(
            linkedid=call.linkedid,
            uniqueid=call.uniqueid,
            queue=queue,
            agent_interface=interface,
            member_name=member_name,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            elder_id=call.elder_id,
            intent=call.intent,
            priority=call.priority,
            region_code=call.region_code,
        ),
    )
    return offer


def _offer(
    session: Session,
    call: LiveCall,
    chan: ChannelRef,
    dest: ChannelRef,
    queue: str,
    interface: str,
    member_name: str,
    at: datetime,
) -> LiveOffer:
    offer = next((o for o in call.offers if o.dest_uniqueid == dest.uniqueid), None)
    if offer is None:
        offer = LiveOffer(
            dest_uniqueid=dest.uniqueid,
            linkedid=call.linkedid,
            queue=queue,
            interface=interface,
            member_name=member_name,
            dest_channel=dest.channel,
            offered_at=at,
            status="ringing",
        )
        call.offers.append(offer)
    return offer


def record_ring_no_answer(
    session: Session,
    *,
    chan: ChannelRef,
    dest: ChannelRef,
    queue: str,
    interface: str,
    member_name: str,
    ring_ms: int,
    at: datetime,
) -> None:
    """AgentRingNoAnswer (RingTime in milliseconds): the agent let it ring; another may be tried."""
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    offer = _offer(session, call, chan, dest, queue, interface, member_name, at)
    if offer.status != "ringing":
        return
    offer.status = "no_answer"
    offer.ring_ms = ring_ms
    offer.ended_at = at
    _ring_ended(session, call, offer, "rang_out")
    agent = _agent(session, interface, member_name)
    assert agent is not None
    if agent.ringing_uniqueid == dest.uniqueid:
        agent.ringing_uniqueid = None
    _refresh_agent(session, agent, at)


def record_leave(
    session: Session, *, chan: ChannelRef, queue: str, position: int, at: datetime
) -> None:
    """QueueCallerLeave: the caller left the queue (answered, abandoned or timed out: Asterisk
    sends it before AgentConnect, so the outcome is settled by the event that follows)."""
    call = _call(session, chan.linkedid)
    if call is None:
        return
    entries = _entries_in(call, chan.uniqueid, queue)
    if entries:
        _left(session, entries[-1], at)


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
        call.wait_s = _total_wait(call)
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
        _open_recall(session, call, reason="abandoned", queue=queue, at=at)


def _total_wait(call: LiveCall) -> float:
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
    chan: ChannelRef,
    dest: ChannelRef,
    queue: str,
    interface: str,
    member_name: str,
    hold_s: int,
    ring_s: int,
    at: datetime,
) -> None:
    """AgentConnect: the agent answered; the call is credited to this queue and agent unless
    an earlier stay of the same call was already answered (a transfer does not re-credit)."""
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    entry = _current_entry(session, call, chan, queue, at)
    offer = _offer(session, call, chan, dest, queue, interface, member_name, at)
    if offer.status in ("connected", "completed"):
        return
    offer.status = "connected"
    offer.connected_at = at
    offer.hold_s = hold_s
    entry.outcome = "answered"
    entry.wait_s = float(hold_s)
    entry.agent_interface = interface
    _left(session, entry, at)
    agent = _agent(session, interface, member_name)
    assert agent is not None
    if agent.ringing_uniqueid == dest.uniqueid:
        agent.ringing_uniqueid = None
    agent.linkedid = call.linkedid
    agent.wrapup_until = None
    _refresh_agent(session, agent, at)
    if call.answered_at is None:
        call.answered_at = at
        call.answered_queue = queue
        call.agent_interface = interface
        call.member_name = member_name
        call.outcome = "answered"
        call.wait_s = _total_wait(call)
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
        _close_recalls(session, call=call, at=at)


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
    chan: ChannelRef,
    dest: ChannelRef,
    queue: str,
    interface: str,
    member_name: str,
    hold_s: int,
    talk_s: int,
    reason: str,
    at: datetime,
) -> None:
    """AgentComplete: the agent's part ended (caller, agent or transfer); wrap-up begins.

    It follows an AgentConnect: when that connect never reached us (callcenter was away, or
    the database) the call was answered all the same, HoldTime seconds after it joined and
    TalkTime seconds before now, and is recorded so; a call a resync found answered (its wait
    unknown) takes its answer time and wait from here too."""
    call = _ensure_call(session, chan, at)
    if call is None:
        return
    offer = _offer(session, call, chan, dest, queue, interface, member_name, at)
    if offer.status == "completed":
        return
    connected_at = at - timedelta(seconds=max(0, talk_s))
    if call.wait_s is None and call.answered_at is not None and call.agent_interface == interface:
        _learn_wait(session, call, chan, queue, hold_s=hold_s, connected_at=connected_at)
    if offer.status != "connected":
        if offer.offered_at > connected_at:
            offer.offered_at = connected_at  # its ring was not seen either
        if not _entries_in(call, chan.uniqueid, queue):
            record_join(
                session,
                chan=chan,
                queue=queue,
                position=0,
                at=connected_at - timedelta(seconds=max(0, hold_s)),
            )
        record_connect(
            session,
            chan=chan,
            dest=dest,
            queue=queue,
            interface=interface,
            member_name=member_name,
            hold_s=hold_s,
            ring_s=0,
            at=connected_at,
        )
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
    agent = _agent(session, interface, member_name)
    assert agent is not None
    if agent.linkedid == call.linkedid:
        agent.linkedid = None
    agent.wrapup_until = at + timedelta(seconds=wrapup) if wrapup > 0 else None
    _refresh_agent(session, agent, at)


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
    for entry in _entries_in(call, chan.uniqueid, queue)[-1:]:
        entry.wait_s = float(hold_s)
        entry.outcome = "answered"
    call.answered_at = connected_at
    call.answered_queue = call.answered_queue or queue
    call.wait_s = _total_wait(call) if call.entries else float(hold_s)


def record_hangup(session: Session, *, chan: ChannelRef, cause: int, at: datetime) -> bool:
    """Hangup: the caller's channel ends the call (its outcome is settled here); an agent leg
    that was still ringing was cancelled. Returns False for a channel of no known call."""
    call = _call(session, chan.linkedid)
    if call is None:
        return False
    if chan.uniqueid == call.uniqueid:
        if chan.variables:
            _apply_variables(session, call, chan.variables)
        _finish(session, call, at)
        return True
    offer = next((o for o in call.offers if o.dest_uniqueid == chan.uniqueid), None)
    if offer is None:
        return True
    if offer.status == "ringing":
        offer.status = "cancelled"
        offer.ended_at = at
        _ring_ended(session, call, offer, "cancelled")
    agent = _agent(session, offer.interface, create=False)
    if agent is not None:
        changed = False
        if agent.ringing_uniqueid == chan.uniqueid:
            agent.ringing_uniqueid = None
            changed = True
        if agent.linkedid == call.linkedid and offer.status in ("connected",):
            agent.linkedid = None
            changed = True
        if changed:
            _refresh_agent(session, agent, at)
    return True


def _finish(session: Session, call: LiveCall, at: datetime, *, by_resync: bool = False) -> None:
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
            _left(session, entry, at)
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
                _identify(session, call)
                reason = "after_hours" if call.queue_status == "AFTER_HOURS" else "no_agent"
                _open_recall(session, call, reason=reason, queue=call.requested_queue, at=at)
        elif call.answered_at is None:
            abandoned = any(e.outcome == "abandoned" for e in call.entries)
            call.outcome = "abandoned" if abandoned else "timeout"
            call.wait_s = _total_wait(call)
            # Lost: abandoned, or left the queue unanswered (no agent was ever rung: no_agent).
            reason = "abandoned" if abandoned else "timeout" if call.offers else "no_agent"
            _open_recall(session, call, reason=reason, queue=call.first_queue, at=at)
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
    call = _call(session, chan.linkedid)
    if call is None or call.direction != "outbound" or call.recall_id is None:
        return
    result = {"ANSWER": "reached", "NOANSWER": "no_answer", "BUSY": "busy"}.get(
        status.upper(), "failed"
    )
    record_recall_attempt(
        session,
        recall_id=call.recall_id,
        attempt_key=call.linkedid,
        result=result,
        at=at,
        agent_interface=_interface_of(chan.channel),
        by_linkedid=call.linkedid,
    )


def _interface_of(channel: str) -> str:
    """``PJSIP/8001-0000000a`` -> ``PJSIP/8001``."""
    base, sep, _ = channel.rpartition("-")
    return base if sep else channel


# -- agents -------------------------------------------------------------------------------------


def derive_agent_state(agent: LiveAgent | Agent, at: datetime) -> tuple[str, str | None]:
    """The state a wallboard shows, from the memberships Asterisk confirmed and the call legs."""
    raw = agent.memberships
    members = list(raw.values()) if isinstance(raw, dict) else list(raw)
    if not members:
        return LOGGED_OUT, None
    if (
        agent.linkedid is not None
        or agent.device_status in _DEVICE_IN_USE
        or any(m.in_call for m in members)
    ):
        return ON_CALL, None
    if agent.ringing_uniqueid is not None or agent.device_status in _DEVICE_RINGING:
        return RINGING, None
    if agent.wrapup_until is not None and agent.wrapup_until > at:
        return WRAP_UP, None
    if all(m.paused for m in members):
        return PAUSED, next((m.paused_reason for m in members if m.paused_reason), "") or None
    if agent.device_status in _DEVICE_GONE:
        return PAUSED, "device_unavailable"
    return READY, None


def _refresh_agent(session: Session, agent: LiveAgent, at: datetime) -> None:
    state, reason = derive_agent_state(agent, at)
    if state == agent.state and reason == agent.reason:
        return
    changes: dict[str, tuple[str, str | None, LiveAgent]] = session.info.setdefault(
        _AGENT_CHANGES, {}
    )
    changes.setdefault(agent.interface, (agent.state, agent.reason, agent))
    agent.state, agent.reason, agent.since = state, reason, at
    # Spans are insert-only: written in one multi-row INSERT when the unit of work commits.
    session.info.setdefault(_SPANS, []).append(
        {"interface": agent.interface, "state": state, "reason": reason, "started_at": at}
    )


def _publish_agent_changes(
    session: Session, changes: dict[str, tuple[str, str | None, LiveAgent]]
) -> None:
    """One AgentStateChanged per agent whose state differs at the end of the unit of work from
    its start: a batch lasts milliseconds, and a screen shows where the agent is now (the spans
    keep every step for the reports)."""
    home = settings_of(session).home_region_code
    for interface in sorted(changes):
        previous, previous_reason, agent = changes[interface]
        if (agent.state, agent.reason) == (previous, previous_reason):
            continue
        publish_on_commit(
            session,
            ev.AgentStateChanged(
                interface=interface,
                member_name=agent.member_name,
                state=agent.state,
                reason=agent.reason,
                since=agent.since.isoformat(),
                previous=previous,
                linkedid=agent.linkedid,
                queues=sorted(agent.memberships),
                region_code=agent.region_code or home,
            ),
        )


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
    agent = _agent(session, member.interface, member.member_name)
    assert agent is not None
    if from_event:
        if agent.member_event_at is not None and at < agent.member_event_at:
            return
        agent.member_event_at = at
    row = agent.memberships.get(member.queue)
    if removed:
        if row is None:
            return
        _drop_membership(agent, member.queue)
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
        if not changed and agent.state != LOGGED_OUT:
            return
    _refresh_agent(session, agent, at)


def _drop_membership(agent: LiveAgent, queue: str) -> None:
    del agent.memberships[queue]
    agent._removed.append(queue)


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
        _refresh_agent(session, agent, now)
        count += 1
    return count


# -- resync after a reconnect -------------------------------------------------------------------


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
    - its caller channel is gone: it ended while we were away. An answered call closes as
      answered. A waiting call whose ringing desk has taken more calls in that queue
      (QueueStatus's CallsTaken) than the records account for was answered by that desk;
      any other closes as abandoned and opens its recall (a lost elder is never assumed served).

    Callers waiting or talking that we never saw are adopted. Memberships, pauses and device
    states are replaced by QueueStatus's. Calls and agents touched by events that arrived while
    the lists were being read are left alone (those events are newer).
    """
    from platform_core.calls import queue_history

    counts = {
        "closed": 0,
        "adopted": 0,
        "agents": 0,
        "answered_away": 0,
        "left_queue": 0,
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
                interface=_interface_of(peer.channel),
                leg_uniqueid=peer.uniqueid,
                answered_at=max(since, call.queued_at or since),
                on_line=True,
            )
            counts["answered_away"] += 1
        for entry in call.entries:
            if entry.left_at is None and (entry.uniqueid, entry.queue) not in waiting_in:
                _left(session, entry, at)
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
        _finish(session, call, at, by_resync=True)
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
        if _call(session, chan.linkedid) is not None:
            continue
        call = _new_call(session, chan, at=joined)
        call.priority = w.priority
        record_join(session, chan=chan, queue=w.queue, position=w.position, at=joined)
        counts["adopted"] += 1
    waiting_ids = {w.uniqueid for w in waiting}
    inbound = _inbound_contexts(session)
    for c in channels:
        # A 12349 caller we never saw (it began while we were away): take it from here. One in
        # a bridge from Queue() was answered meanwhile, by the desk on the other side of it.
        if (
            c.uniqueid != c.linkedid
            or c.context not in inbound
            or c.uniqueid in waiting_ids
            or c.linkedid in exempt_calls
            or _call(session, c.linkedid) is not None
        ):
            continue
        started = at - timedelta(seconds=c.duration_s)
        call = _new_call(
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
            call.agent_interface = _interface_of(peer.channel)
            _identify(session, call)
    seen: dict[str, list[MemberState]] = {}
    for m in members:
        seen.setdefault(m.interface, []).append(m)
    known = {a.interface: a for a in st.agents.values() if a is not None}
    for interface in set(known) | set(seen):
        if interface in exempt_agents:
            continue
        found = known.get(interface) or _agent(session, interface, seen[interface][0].member_name)
        assert found is not None
        agent = found
        reported = {m.queue: m for m in seen.get(interface, [])}
        for queue in list(agent.memberships):
            if queue not in reported:
                _drop_membership(agent, queue)
        for m in reported.values():
            record_member(session, member=m, at=at, from_event=False)
        if agent.linkedid is not None and agent.linkedid not in {c.linkedid for c in channels}:
            agent.linkedid = None
        if agent.ringing_uniqueid is not None and agent.ringing_uniqueid not in alive:
            agent.ringing_uniqueid = None
        _refresh_agent(session, agent, at)
        counts["agents"] += 1
    for params in queues:
        q = _queue(session, params.name)
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
        _left(session, entry, answered_at)
        queue = entry.queue
    offer = next((o for o in call.offers if o.dest_uniqueid == leg_uniqueid), None)
    member_name = offer.member_name if offer is not None else ""
    if offer is not None and offer.status == "ringing" and queue is not None:
        offer.status = "connected"
        offer.connected_at = answered_at
    agent = _agent(session, interface, member_name)
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
    _close_recalls(session, call=call, at=answered_at)


def _linkedid_of(channels: Collection[LiveChannel], uniqueid: str) -> str:
    return next((c.linkedid for c in channels if c.uniqueid == uniqueid and c.linkedid), uniqueid)


def _recount_queues(session: Session) -> None:
    names = set(session.scalars(select(TelephonyQueue.name)))
    names |= set(
        session.scalars(select(QueueEntry.queue).where(QueueEntry.left_at.is_(None)).distinct())
    )
    session.info.setdefault(_DIRTY_QUEUES, set()).update(names)


# -- recalls ------------------------------------------------------------------------------------


def _open_recall(
    session: Session, call: LiveCall, *, reason: str, queue: str | None, at: datetime
) -> RecallItem | None:
    if call.direction != "inbound" or not usable_number(call.caller_number) or call.recall_opened:
        return None
    call.recall_opened = True  # one lost call, one recall item, however often its events come
    item = RecallItem(
        origin_linkedid=call.linkedid,
        elder_id=call.elder_id,
        number=call.caller_number,
        caller_name=call.caller_name,
        region_code=call.region_code,
        queue=queue,
        reason=reason,
        wait_s=call.wait_s,
        status="open",
        opened_at=at,
        attempts=0,
    )
    session.add(item)
    session.info.setdefault(_NEW_RECALLS, []).append(item)
    return item


def _close_recalls(session: Session, *, call: LiveCall, at: datetime) -> None:
    """Someone got through to this elder (or number): their open recall items close when the
    unit of work commits (one query for every caller reached in it)."""
    if call.direction != "inbound" or (
        call.elder_id is None and not usable_number(call.caller_number)
    ):
        return
    session.info.setdefault(_REACHED, []).append((call, at))


def _close_reached(session: Session, reached: list[tuple[LiveCall, datetime]]) -> None:
    elders = {c.elder_id for c, _ in reached if c.elder_id is not None}
    numbers = {c.caller_number for c, _ in reached if usable_number(c.caller_number)}
    conditions = []
    if elders:
        conditions.append(RecallItem.elder_id.in_(sorted(elders)))
    if numbers:
        conditions.append(RecallItem.number.in_(sorted(numbers)))
    items = session.scalars(
        select(RecallItem).where(RecallItem.status == "open", or_(*conditions))
    ).all()
    for item in items:
        for call, at in sorted(reached, key=lambda r: r[1]):
            same = (
                item.elder_id is not None and item.elder_id == call.elder_id
            ) or item.number == call.caller_number
            if same and item.opened_at <= at and item.origin_linkedid != call.linkedid:
                _close(session, item, reason="reached_inbound", by_linkedid=call.linkedid, at=at)
                break


def _close(
    session: Session,
    item: RecallItem,
    *,
    reason: str,
    by_linkedid: str | None,
    at: datetime,
    by: str | None = None,
) -> None:
    if item.status != "open":
        return
    item.status = "closed"
    item.closed_at = at
    item.closed_reason = reason
    item.closed_by_linkedid = by_linkedid
    item.closed_by = by
    publish_on_commit(
        session,
        ev.RecallClosed(
            recall_id=item.id,
            number=item.number,
            elder_id=item.elder_id,
            closed_reason=reason,
            by_linkedid=by_linkedid,
            region_code=item.region_code,
        ),
    )


def open_recall_request(
    session: Session,
    *,
    linkedid: str,
    number: str,
    elder_id: int | None,
    queue: str | None,
    at: datetime,
    region_code: str | None = None,
    caller_name: str = "",
) -> RecallItem:
    """The caller asked to be called back (the IVR's offer when the wait is long)."""
    existing = session.scalar(select(RecallItem).where(RecallItem.origin_linkedid == linkedid))
    if existing is not None:
        return existing
    item = RecallItem(
        origin_linkedid=linkedid,
        elder_id=elder_id,
        number=number,
        caller_name=caller_name,
        region_code=region_code or settings_of(session).home_region_code,
        queue=queue,
        reason="callback_requested",
        status="open",
        opened_at=at,
        attempts=0,
    )
    session.add(item)
    session.flush()
    publish_on_commit(
        session,
        ev.RecallOpened(
            recall_id=item.id,
            linkedid=linkedid,
            number=number,
            elder_id=elder_id,
            reason=item.reason,
            queue=queue,
            region_code=item.region_code,
        ),
    )
    return item


def record_recall_attempt(
    session: Session,
    *,
    recall_id: int,
    attempt_key: str,
    result: str,
    at: datetime,
    agent_interface: str | None = None,
    actor_name: str | None = None,
    actor_user_id: int | None = None,
    by_linkedid: str | None = None,
) -> RecallAttempt | None:
    """One call-back attempt and its result; "reached" closes the item. Idempotent per key."""
    item = session.get(RecallItem, recall_id)
    if item is None:
        log.warning("回拨记录不存在 / no recall item %s", recall_id)
        return None
    existing = session.scalar(
        select(RecallAttempt).where(
            RecallAttempt.recall_id == recall_id, RecallAttempt.attempt_key == attempt_key
        )
    )
    if existing is not None:
        if existing.result == "reached" or result != "reached":
            return existing
        existing.result = result
        attempt = existing
    else:
        attempt = RecallAttempt(
            recall_id=recall_id,
            attempt_key=attempt_key,
            at=at,
            result=result,
            agent_interface=agent_interface,
            actor_name=actor_name,
            actor_user_id=actor_user_id,
        )
        session.add(attempt)
        item.attempts += 1
    item.last_attempt_at = at
    item.last_result = result
    publish_on_commit(
        session,
        ev.RecallAttempted(
            recall_id=item.id, result=result, attempts=item.attempts, region_code=item.region_code
        ),
    )
    if result == "reached":
        _close(
            session, item, reason="reached_callback", by_linkedid=by_linkedid, at=at, by=actor_name
        )
    return attempt


def get_recall(session: Session, *, recall_id: int) -> RecallItem:
    item = session.get(RecallItem, recall_id)
    if item is None:
        raise NotFound(
            f"回拨事项不存在: {recall_id} / no such recall item", code="recall_not_found"
        )
    return item


def list_recalls(
    session: Session,
    *,
    status: str | None = "open",
    region_code: str | None = None,
    elder_id: int | None = None,
    limit: int = 200,
) -> list[RecallItem]:
    q = select(RecallItem).order_by(RecallItem.opened_at).limit(limit)
    if status:
        q = q.where(RecallItem.status == status)
    if region_code:
        q = q.where(RecallItem.region_code.startswith(_prefix(region_code)))
    if elder_id is not None:
        q = q.where(RecallItem.elder_id == elder_id)
    return list(session.scalars(q))


def cancel_recall(
    session: Session, *, recall_id: int, actor_name: str, reason: str = "cancelled"
) -> RecallItem:
    item = get_recall(session, recall_id=recall_id)
    _close(session, item, reason=reason, by_linkedid=None, at=clock.now(), by=actor_name)
    return item


def _prefix(region_code: str) -> str:
    from platform_core.regions.codes import normalize_code, prefix_of

    return prefix_of(normalize_code(region_code))


# -- queries ------------------------------------------------------------------------------------


def recent_calls(
    session: Session, *, elder_id: int | None = None, number: str | None = None, limit: int = 10
) -> list[Call]:
    """The caller's last calls, for the screen pop."""
    q = select(Call).order_by(Call.started_at.desc()).limit(limit)
    if elder_id is not None:
        q = q.where(Call.elder_id == elder_id)
    elif number:
        q = q.where(Call.caller_number == number)
    else:
        return []
    return list(session.scalars(q))


def day_bounds(settings: Settings, day: date) -> tuple[datetime, datetime]:
    return clock.day_bounds(day, settings.timezone)


def live_snapshot(session: Session, *, region_code: str | None = None) -> dict[str, Any]:
    """What a console loads on (re)connect before applying events: queues with their waiting
    callers and longest wait, agents with state, reason and since, and today's KPIs."""
    from platform_core.calls.kpi import kpi_report

    settings = settings_of(session)
    now = clock.now()
    q = (
        select(QueueEntry, Call)
        .join(Call, Call.linkedid == QueueEntry.linkedid)
        .where(QueueEntry.left_at.is_(None), Call.ended_at.is_(None))
        .order_by(QueueEntry.queue, QueueEntry.priority.desc(), QueueEntry.joined_at)
    )
    if region_code:
        q = q.where(Call.region_code.startswith(_prefix(region_code)))
    queues: dict[str, dict[str, Any]] = {}
    for tq in session.scalars(
        select(TelephonyQueue).order_by(TelephonyQueue.weight.desc(), TelephonyQueue.name)
    ):
        queues[tq.name] = {
            "queue": tq.name,
            "strategy": tq.strategy,
            "weight": tq.weight,
            "waiting": [],
            "waiting_count": 0,
            "longest_wait_s": 0.0,
            "agents": {s: 0 for s in AGENT_STATES},
        }
    for entry, call in session.execute(q):
        item = queues.setdefault(
            entry.queue,
            {
                "queue": entry.queue,
                "strategy": None,
                "weight": 0,
                "waiting": [],
                "waiting_count": 0,
                "longest_wait_s": 0.0,
                "agents": {s: 0 for s in AGENT_STATES},
            },
        )
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
            and not agent.region_code.startswith(_prefix(region_code))
        ):
            continue
        names = [m.queue for m in agent.memberships]
        for name in names:
            queues.setdefault(
                name,
                {
                    "queue": name,
                    "strategy": None,
                    "weight": 0,
                    "waiting": [],
                    "waiting_count": 0,
                    "longest_wait_s": 0.0,
                    "agents": {s: 0 for s in AGENT_STATES},
                },
            )
            queues[name]["agents"][agent.state] += 1
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
            *([RecallItem.region_code.startswith(_prefix(region_code))] if region_code else []),
        )
    )
    return {
        "at": now.isoformat(),
        "queues": list(queues.values()),
        "agents": agents_out,
        "kpi": today.total.as_dict(),
        "open_recalls": int(open_recalls or 0),
    }
