"""The screen pop's fast lane: a ring the IVR decided pops as the reader reads it.

The writer's pop waits for the batch holding the ring to commit, and for the batch before it
(see platform_core.calls.ringing). A ring whose own channel says everything its pop shows
(``ringing.ivr_decided``) does not need to: the reader notes it as popped and hands it to the
lane's thread, which reads the elder's region (kept a minute) and publishes the pop; the writer,
recording the ring later, publishes no second one. The reader never waits here: the AMI event
typed once more (a ring is one event in twenty) and a put on an unbounded queue.

Order on the agent's screen is kept: a pop goes out before anything the writer publishes about
that ring (its end, its answer), since the writer only reaches the ring after the reader noted
it. A second ring of the same call at the same desk is left to the writer, so it cannot
overtake the end of the first. A pop the lane cannot finish (the database cannot say the
elder's region, the bus refuses it) is forgotten as popped: a writer still to record that ring
then publishes it after its commit, as it does every ring the lane does not take.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Collection
from typing import Any, Protocol

from panoramisk.message import Message

from callcenter import events as ami_events
from platform_core.calls.ringing import ElderRegions, ivr_decided, pop_from_ring, ring_elder

log = logging.getLogger(__name__)

Envelope = dict[str, Any]
Ring = tuple[str, str]  # (linkedid, the ringing leg's uniqueid)

_DESKS_KEPT = 100_000  # the (call, desk) pairs that rang lately: a second ring goes the slow way


class Publisher(Protocol):
    def publish_many(self, envelopes: list[Envelope]) -> None: ...


class RingingLane:
    def __init__(
        self,
        bus: Publisher,
        regions: ElderRegions,
        *,
        inbound_contexts: Collection[str],
        home_region: str,
    ) -> None:
        self.bus = bus
        self.regions = regions
        self.inbound_contexts = frozenset(inbound_contexts)
        self.home_region = home_region
        # the rings popped here and not yet recorded by the writer (shared with its session)
        self.popped: set[Ring] = set()
        self.stats = {"popped": 0, "left_to_writer": 0}
        self._desks: dict[tuple[str, str], None] = {}
        self._work: queue.SimpleQueue[ami_events.AgentCalled | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def ring(self, message: Message, received_at: float) -> bool:
        """On the reader, for an AgentCalled before it is queued for the writer: take the ring
        when its channel decides its pop. True when taken."""
        if self._closed:
            return False
        try:
            called = ami_events.parse_event(message, received_at)
        except Exception:  # noqa: BLE001 - the writer reports what cannot be typed
            return False
        if not isinstance(called, ami_events.AgentCalled):
            return False
        if not ivr_decided(called.chan, self.inbound_contexts):
            return False
        desk = (called.chan.linkedid, called.member_interface)
        ring = (called.chan.linkedid, called.dest.uniqueid)
        if desk in self._desks or ring in self.popped:
            return False
        self._desks[desk] = None
        if len(self._desks) > _DESKS_KEPT:
            del self._desks[next(iter(self._desks))]
        self.popped.add(ring)
        self._work.put(called)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ringing-lane", daemon=True)
            self._thread.start()
        return True

    def _run(self) -> None:
        while True:
            first = self._work.get()
            if first is None:
                return
            rings = [first]
            while True:
                try:
                    more = self._work.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._work.put(None)
                    break
                rings.append(more)
            self._publish(rings)

    def _publish(self, rings: list[ami_events.AgentCalled]) -> None:
        """The pops of the rings taken since the last time: their elders' regions in one read,
        then to the bus together."""
        elders = {id(c): ring_elder(c.chan) for c in rings}
        try:
            regions = self.regions.regions_of([e for e in elders.values() if e is not None])
        except Exception:  # noqa: BLE001 - the writer pops those once the database answers
            log.warning(
                "弹屏快速通道无法读取老人区划 / fast pop: regions unreadable", exc_info=True
            )
            for c in rings:
                if elders[id(c)] is not None:
                    self._leave((c.chan.linkedid, c.dest.uniqueid))
            rings = [c for c in rings if elders[id(c)] is None]
            regions = {}
        if not rings:
            return
        envelopes: list[Envelope] = []
        for called in rings:
            elder_id = elders[id(called)]
            pop = pop_from_ring(
                called.chan,
                queue=called.queue,
                interface=called.member_interface,
                member_name=called.member_name,
                elder_region=None if elder_id is None else regions.get(elder_id),
                home_region=self.home_region,
            )
            envelopes.append(pop.envelope())
        try:
            self.bus.publish_many(envelopes)
        except Exception:  # noqa: BLE001 - the writer publishes what did not go out
            log.warning("弹屏快速通道发布失败 / fast pop not published", exc_info=True)
            for c in rings:
                self._leave((c.chan.linkedid, c.dest.uniqueid))
            return
        self.stats["popped"] += len(envelopes)

    def _leave(self, ring: Ring) -> None:
        self.popped.discard(ring)
        self.stats["left_to_writer"] += 1

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        if self._thread is not None:
            self._work.put(None)
            self._thread.join(timeout)
            self._thread = None
