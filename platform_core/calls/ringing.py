"""The screen pop of a ring, from the call's record or straight from the ring itself.

The writer records a ring (AgentCalled) in a batch with everything the AMI sent around it and
publishes its pop after that batch commits, so the pop waited for the whole batch and for the
one before it: under a full hotline's load on two cores, most of the pop's time. Yet once the
IVR has run, the ring carries everything the pop shows: Asterisk writes the IVR's decisions
(HOTLINE_ELDER_ID, HOTLINE_INTENT, HOTLINE_PRIORITY, ...) on every event of the caller's channel,
and the caller id with them; only the elder's region needs a read. :func:`pop_from_ring` builds
that pop exactly as the writer would for such a call, and None for any other (no IVR on the
channel, a channel that is not the call's first, a context that is not the hotline's), which
the writer then pops itself after its commit. A ring popped early is noted in the writer's
session (:data:`POPPED`) so the writer publishes no second pop when it records it.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import NamedTuple, Protocol

from sqlalchemy import Engine, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from platform_core.calls import events as ev
from platform_core.calls.live import LiveCall
from platform_core.calls.schemas import ChannelRef, shown_caller_id
from platform_core.calls.variables import named_elder, variable_changes
from platform_core.elders.models import Elder
from platform_core.key_lists import KEYS, among

# the rings popped before the writer recorded them, as (linkedid, the ringing leg's uniqueid)
POPPED = "calls.popped"
_RECORDED = "calls.popped_recorded"


class _Shown(Protocol):
    """What a pop shows of its caller: a recorded call, or what the ring itself says."""

    @property
    def caller_number(self) -> str: ...
    @property
    def caller_name(self) -> str: ...
    @property
    def elder_id(self) -> int | None: ...
    @property
    def intent(self) -> str | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def region_code(self) -> str: ...


class _FromRing(NamedTuple):
    caller_number: str
    caller_name: str
    elder_id: int | None
    intent: str | None
    priority: int
    region_code: str


def pop_of(call: LiveCall, queue: str, interface: str, member_name: str) -> ev.CallRinging:
    """The pop of a ring the writer recorded."""
    return _pop(call.linkedid, call.uniqueid, queue, interface, member_name, call)


def _pop(
    linkedid: str, uniqueid: str, queue: str, interface: str, member_name: str, shown: _Shown
) -> ev.CallRinging:
    return ev.CallRinging(
        linkedid=linkedid,
        uniqueid=uniqueid,
        queue=queue,
        agent_interface=interface,
        member_name=member_name,
        caller_number=shown.caller_number,
        caller_name=shown.caller_name,
        elder_id=shown.elder_id,
        intent=shown.intent,
        priority=shown.priority,
        region_code=shown.region_code,
    )


def ring_elder(chan: ChannelRef) -> int | None:
    """The elder the IVR named on a ring's channel (the one whose region its pop needs)."""
    return named_elder(chan.variables.get("HOTLINE_ELDER_ID", ""))


def ivr_decided(chan: ChannelRef, inbound_contexts: Collection[str]) -> bool:
    """Whether a ring's own channel says all its pop shows: the call's first channel, in a
    12349 inbound context, after the IVR ran on it (its session id is on the channel)."""
    return (
        chan.uniqueid == chan.linkedid
        and chan.context in inbound_contexts
        and bool(chan.variables.get("HOTLINE_IVR_SESSION", "").strip())
    )


def pop_from_ring(
    chan: ChannelRef,
    *,
    queue: str,
    interface: str,
    member_name: str,
    elder_region: str | None,
    home_region: str,
) -> ev.CallRinging:
    """The pop the writer would publish for a ring :func:`ivr_decided` accepts: the IVR ran,
    so the caller is the elder it named (no lookup by number) and the call's region is that
    elder's (``elder_region``, None when there is none or the elder is not on file) or the
    hotline's own."""
    changes = variable_changes(chan.variables)
    shown = _FromRing(
        caller_number=shown_caller_id(chan.caller_number),
        caller_name=shown_caller_id(chan.caller_name),
        elder_id=changes.get("elder_id"),
        intent=changes.get("intent"),
        priority=changes.get("priority", 0),
        region_code=elder_region or home_region,
    )
    return _pop(chan.linkedid, chan.uniqueid, queue, interface, member_name, shown)


def take_popped(session: Session, linkedid: str, dest_uniqueid: str) -> bool:
    """Whether this ring was popped already; it is forgotten once this unit of work commits
    (a unit of work rolled back and done again still publishes no second pop)."""
    popped: set[tuple[str, str]] | None = session.info.get(POPPED)
    key = (linkedid, dest_uniqueid)
    if not popped or key not in popped:
        return False
    session.info.setdefault(_RECORDED, []).append(key)
    return True


@sa_event.listens_for(Session, "after_commit")
def _forget_recorded(session: Session) -> None:
    recorded: list[tuple[str, str]] | None = session.info.pop(_RECORDED, None)
    popped: set[tuple[str, str]] | None = session.info.get(POPPED)
    if recorded and popped is not None:
        popped.difference_update(recorded)


@sa_event.listens_for(Session, "after_rollback")
def _keep_popped(session: Session) -> None:
    session.info.pop(_RECORDED, None)


class ElderRegions:
    """The regions of elders, read by id, many in one statement, and kept a short while (an
    elder moving is rare; pops follow within a minute)."""

    _READ = select(Elder.id, Elder.region_code).where(among(Elder.id))

    def __init__(self, engine: Engine, *, keep_s: float = 60.0, most: int = 50_000) -> None:
        self.engine = engine
        self.keep_s = keep_s
        self.most = most
        self._known: dict[int, tuple[str | None, float]] = {}

    def regions_of(self, elder_ids: Collection[int]) -> dict[int, str | None]:
        """Each elder's region (None: not on file); raises when the database cannot say.
        Called from one thread (the ringing lane's)."""
        now = time.monotonic()
        out: dict[int, str | None] = {}
        wanted: list[int] = []
        for elder_id in set(elder_ids):
            known = self._known.get(elder_id)
            if known is not None and now - known[1] < self.keep_s:
                out[elder_id] = known[0]
            else:
                wanted.append(elder_id)
        if wanted:
            with self.engine.connect() as conn:
                rows = conn.execute(self._READ, {KEYS: sorted(wanted)}).all()
            found: dict[int, str | None] = {elder_id: region for elder_id, region in rows}
            if len(self._known) + len(wanted) > self.most:
                self._known.clear()
            for elder_id in wanted:
                region = found.get(elder_id)
                self._known[elder_id] = (region, now)
                out[elder_id] = region
        return out
