"""The screen pop of a ring, from the call's record or straight from the ring itself.

The writer records a ring (AgentCalled) in a batch with everything the AMI sent around it and
publishes its pop after that batch commits, so the pop waits for the whole batch and for the
one before it: under a full hotline's load, most of the pop's time. Yet once the IVR has run,
the ring carries everything the pop shows: Asterisk writes the IVR's decisions
(HOTLINE_ELDER_ID, HOTLINE_INTENT, HOTLINE_PRIORITY, ...) on every event of the caller's channel,
and the caller id with them; only the elder's region needs a read. :func:`pop_from_ring` builds
that pop exactly as the writer would for such a call (:func:`ivr_decided` says which rings), for
the screen-pop service (callcenter.screen_pop), which reads the rings on an AMI session of its
own. Both publish every pop they build; a pop is one of a kind per ring
(``CallRinging.once``), so the bus lets the first out and drops the second.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import NamedTuple, Protocol

from sqlalchemy import Engine, select

from platform_core.calls import events as ev
from platform_core.calls.live import LiveCall
from platform_core.calls.schemas import ChannelRef, shown_caller_id
from platform_core.calls.variables import named_elder, variable_changes
from platform_core.elders.models import Elder
from platform_core.key_lists import KEYS, among


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


def pop_of(
    call: LiveCall, ring_uniqueid: str, queue: str, interface: str, member_name: str
) -> ev.CallRinging:
    """The pop of a ring the writer recorded (``ring_uniqueid``: the ringing leg's channel)."""
    return _pop(call.linkedid, call.uniqueid, ring_uniqueid, queue, interface, member_name, call)


def _pop(
    linkedid: str,
    uniqueid: str,
    ring_uniqueid: str,
    queue: str,
    interface: str,
    member_name: str,
    shown: _Shown,
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
        ring_uniqueid=ring_uniqueid,
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
    ring_uniqueid: str,
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
    return _pop(chan.linkedid, chan.uniqueid, ring_uniqueid, queue, interface, member_name, shown)


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
        Called from one thread (the screen-pop service's lane)."""
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
