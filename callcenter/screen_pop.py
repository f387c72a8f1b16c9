"""The screen-pop service: a ring the IVR decided pops as it is read, from a process of its own.

callcenter's writer records every ring in a batch with everything the AMI sent around it and
publishes its pop after the batch commits; with a full hotline on two cores, its one interpreter
busy with reading and writing five thousand events a second, that wait was most of the pop's
time. This service logs in to Asterisk as its own AMI user (manager.conf's ``[hotline-pop]``:
read class agent, an event filter that lets AgentCalled through and nothing else), so it reads a
ring out of every twenty events in an interpreter of its own. A ring whose channel says all its
pop shows (``ringing.ivr_decided``) is popped here: the reader hands it to the lane's thread,
which reads the elders' regions (one statement for the rings that came together, kept a minute)
and publishes.

The writer still publishes the pop of every ring it records; a pop is one of a kind per ring
(``CallRinging.once``), so whichever is first goes out and the other is dropped by the bus. The
service therefore owes nothing: a ring it does not take (no IVR on the call, the same call
ringing the same desk again, which must not overtake the end of the first ring the writer
publishes), cannot finish (the region unreadable, Redis refusing) or never sees (the service
down, reconnecting) is popped by the writer after its commit. No resync: a ring missed is
popped by the writer, and rings are only worth popping now.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Collection
from typing import Any, Protocol

from panoramisk.message import Message

from callcenter import events as ami_events
from callcenter.ami_login import ami_client
from callcenter.loop_thread import LoopThread
from platform_core.calls.ringing import ElderRegions, ivr_decided, pop_from_ring, ring_elder
from platform_core.calls.variables import inbound_context_names
from platform_core.process import settle_service_process
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

Envelope = dict[str, Any]

_DESKS_KEPT = 100_000  # the (call, desk) pairs that rang lately: a second ring is the writer's


class Publisher(Protocol):
    def publish_many(self, envelopes: list[Envelope]) -> None: ...


class RingingLane:
    """The rings read, popped on a thread of their own (the reader never waits here)."""

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
        self.stats = {"popped": 0, "left_to_writer": 0}
        # what is failing now (the database, the bus): logged as it starts and as it ends, not
        # for every group of rings in between (at the peak, hundreds a second)
        self._failing: str | None = None
        self._desks: dict[tuple[str, str], None] = {}
        self._work: queue.SimpleQueue[ami_events.AgentCalled | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def ring(self, message: Message, received_at: float) -> None:
        """On the reader, for each AMI message: take an AgentCalled whose channel decides its
        pop, the first time this call rings this desk."""
        if self._closed or message.get("Event") != "AgentCalled":
            return
        try:
            called = ami_events.parse_event(message, received_at)
        except Exception:  # noqa: BLE001 - the writer reports what cannot be typed
            self.stats["left_to_writer"] += 1
            return
        if not isinstance(called, ami_events.AgentCalled):
            return
        desk = (called.chan.linkedid, called.member_interface)
        again = desk in self._desks
        self._desks[desk] = None
        if len(self._desks) > _DESKS_KEPT:
            del self._desks[next(iter(self._desks))]
        if again or not ivr_decided(called.chan, self.inbound_contexts):
            self.stats["left_to_writer"] += 1
            return
        self._work.put(called)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ringing-lane", daemon=True)
            self._thread.start()

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
        then to the bus together. What fails is the writer's to pop."""
        elders = [ring_elder(c.chan) for c in rings]
        try:
            regions = self.regions.regions_of([e for e in elders if e is not None])
        except Exception as exc:  # noqa: BLE001 - the writer pops those once the database answers
            self._failed("database", exc, len(rings))
            return
        envelopes = [
            pop_from_ring(
                called.chan,
                ring_uniqueid=called.dest.uniqueid,
                queue=called.queue,
                interface=called.member_interface,
                member_name=called.member_name,
                elder_region=None if elder_id is None else regions.get(elder_id),
                home_region=self.home_region,
            ).envelope()
            for called, elder_id in zip(rings, elders, strict=True)
        ]
        try:
            self.bus.publish_many(envelopes)
        except Exception as exc:  # noqa: BLE001 - the writer's pops go out through the outbox
            self._failed("bus", exc, len(rings))
            return
        self.stats["popped"] += len(envelopes)
        if self._failing is not None:
            log.info("弹屏服务已恢复 / screen pop: %s answering again", self._failing)
            self._failing = None

    def _failed(self, what: str, exc: Exception, rings: int) -> None:
        """Leave ``rings`` to the writer; say so once as ``what`` starts failing."""
        self.stats["left_to_writer"] += rings
        if self._failing != what:
            self._failing = what
            log.warning(
                "弹屏服务暂停, 由话务写入端弹屏 / screen pop: %s failing (%s), the writer pops",
                what,
                type(exc).__name__,
            )

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        if self._thread is not None:
            self._work.put(None)
            self._thread.join(timeout)
            self._thread = None


class ScreenPops:
    """The service: its own AMI session (the rings only) and the lane."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        secret: str | None = None,
        **ami_options: Any,
    ) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.lane = RingingLane(
            runtime.event_bus,
            ElderRegions(runtime.engine),
            inbound_contexts=inbound_context_names(s.call_inbound_contexts),
            home_region=s.home_region_code,
        )
        self.ami = ami_client(
            s,
            host=host,
            port=port,
            username=username or s.ami_pop_username,
            secret=s.ami_pop_secret if secret is None else secret,
            on_message=self.lane.ring,
            # the agent class only at login; manager.conf's event filter narrows it to the rings
            events="agent",
            accept_events=frozenset({"AgentCalled"}),
            **ami_options,
        )

    @property
    def ready(self) -> bool:
        return self.ami.connected

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or a refused password ends it with an error)."""
        settle_service_process()
        try:
            await self.ami.run(stop or asyncio.Event())
        finally:
            self.lane.close()

    def stats(self) -> dict[str, Any]:
        return {"ami": self.ami.stats.as_dict(), "lane": dict(self.lane.stats)}


class ScreenPopsThread(LoopThread):
    """The service on its own thread and loop: the one-process demo and tests."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        self.service = ScreenPops(runtime, **kwargs)
        super().__init__("screen-pop", self.service.run)

    def is_ready(self) -> bool:
        return self.service.ready
