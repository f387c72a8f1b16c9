"""From the AMI reader to the database, in order, without ever blocking the reader.

The reader (on the event loop) only tests whether a message matters (:class:`ReaderFilter`) and
appends it to a queue; one writer thread takes everything queued so far as a batch, prefetches
the calls and agents it touches, runs the handlers in arrival order inside one transaction and
commits: the live rows go out as one upsert per table and the events publish after the commit.
The writer is the only one that changes telephony rows, so it keeps its session (and the open
calls and agents in it) from batch to batch. A batch that fails is rolled back, the session
dropped, and the batch replayed one event per transaction, so one bad event is counted and
skipped without losing its neighbours. Wrap-up expiry and resync markers run on the same
thread, so they are ordered with the events too.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from panoramisk.message import Message
from sqlalchemy.orm import Session

from callcenter import events as ami_events
from callcenter.handlers import dispatch
from platform_core import clock
from platform_core.calls import service as calls
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

Marker = Callable[[Session], Any]

# A UserEvent a health check (or a test) sends through Asterisk: once it is read, everything
# Asterisk sent before it has been read and queued too.
PROBE_EVENT = "HotlineProbe"


@dataclass
class PipelineStats:
    received: int = 0  # every event the reader saw
    queued: int = 0  # events callcenter acts on
    processed: int = 0  # every event accounted for (ignored ones on arrival)
    handled: int = 0  # typed events whose handler ran and committed
    malformed: int = 0
    unknown_channel: int = 0
    failed: int = 0
    batches: int = 0
    retried_batches: int = 0
    last_batch_ms: float = 0.0
    max_batch: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ReaderFilter:
    """What the reader drops before queueing, at the cost of a few dictionary lookups: events
    callcenter does not act on, the agent legs' Newchannel, DialEnd outside call backs, and
    member events that repeat what was already queued for that member of that queue (Asterisk
    sends one per queue for every device change)."""

    def __init__(self, callback_context: str) -> None:
        self.callback_context = callback_context
        self.members: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.repeated = 0

    def reset(self) -> None:
        """After a reconnect the resync reads every member afresh."""
        self.members.clear()

    def keep(self, m: Message) -> bool:
        if not ami_events.wanted(m):
            return False
        name = m.get("Event")
        if name == "Newchannel":
            return bool(m.get("Uniqueid") == (m.get("Linkedid") or m.get("Uniqueid")))
        if name == "DialEnd":
            return bool(m.get("Context") == self.callback_context)
        if name in (
            "QueueMemberStatus",
            "QueueMemberPause",
            "QueueMemberAdded",
            "QueueMemberRemoved",
        ):
            key = (str(m.get("Interface") or m.get("Location")), str(m.get("Queue")))
            if name in ("QueueMemberAdded", "QueueMemberRemoved"):
                self.members.pop(key, None)
                return True
            state = (m.get("Status"), m.get("Paused"), m.get("PausedReason"), m.get("InCall"))
            if self.members.get(key) == state:
                self.repeated += 1
                return False
            self.members[key] = state
        return True


class _Window:
    """Calls and agents named by events that arrived while a resync was reading its lists."""

    def __init__(self) -> None:
        self.linkedids: set[str] = set()
        self.interfaces: set[str] = set()


class EventPipeline:
    def __init__(
        self, runtime: Runtime, *, max_batch: int = 2000, wrapup_check_s: float = 0.25
    ) -> None:
        self.runtime = runtime
        self.max_batch = max_batch
        self.wrapup_check_s = wrapup_check_s
        self.stats = PipelineStats()
        self._queue: queue.SimpleQueue[tuple[Message | None, float, Marker | None]] = (
            queue.SimpleQueue()
        )
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._windows: list[_Window] = []
        self._last_wrapup = 0.0
        self.last_probe: str | None = None
        self.filter = ReaderFilter(runtime.settings.call_callback_context)
        self._session: Session | None = None
        self.on_batch: Callable[[list[ami_events.AmiEvent]], None] | None = None

    # -- reader side (event loop) -------------------------------------------------------------

    def submit(self, message: Message, received_at: float) -> None:
        """Called by the AMI reader for every event: filter, note, enqueue. Never blocks."""
        self.stats.received += 1
        if not self.filter.keep(message):
            self.stats.processed += 1
            if message.get("UserEvent") == PROBE_EVENT:
                self.last_probe = str(message.get("Token", ""))
            return
        if self._windows:
            linkedid = message.get("Linkedid") or message.get("Uniqueid")
            interface = message.get("Interface")
            for w in self._windows:
                if linkedid:
                    w.linkedids.add(str(linkedid))
                if interface:
                    w.interfaces.add(str(interface))
        self.stats.queued += 1
        with self._lock:
            self._pending += 1
        self._queue.put((message, received_at, None))

    def open_window(self) -> _Window:
        w = _Window()
        self._windows.append(w)
        return w

    def close_window(self, w: _Window) -> None:
        if w in self._windows:
            self._windows.remove(w)

    def submit_marker(self, marker: Marker) -> None:
        """Run ``marker(session)`` on the writer thread after everything queued before it."""
        with self._lock:
            self._pending += 1
        self._queue.put((None, time.time(), marker))

    # -- writer side --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="callcenter-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.wait_idle(timeout)
        self._stop.set()
        self._queue.put((None, 0.0, None))
        if self._thread is not None:
            self._thread.join(timeout)
        self.close()

    @property
    def backlog(self) -> int:
        """Events (and markers) queued and not yet committed."""
        return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=self.wrapup_check_s)
            except queue.Empty:
                self._expire_wrapups()
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            items = [b for b in batch if b[0] is not None or b[2] is not None]
            try:
                self.process(items)
            except Exception:  # noqa: BLE001 - the writer must survive anything
                log.exception("事件批处理失败 / batch processing failed")
            finally:
                with self._idle:
                    self._pending -= len(items)
                    self._idle.notify_all()
            if time.monotonic() - self._last_wrapup >= self.wrapup_check_s:
                self._expire_wrapups()

    def _expire_wrapups(self) -> None:
        self._last_wrapup = time.monotonic()
        try:
            self._in_session(lambda s: calls.expire_wrapups(s, now=clock.now()))
        except Exception:  # noqa: BLE001
            log.exception("话后处理到期检查失败 / wrap-up expiry failed")

    def _in_session(self, work: Callable[[Session], Any]) -> Any:
        """Run ``work`` in the writer's session and commit it.

        The writer is the only one that changes call, queue and agent rows, so it keeps one
        session (expire_on_commit is off): the calls and agents of the last events stay in
        memory and a burst costs no re-reads. On any error the session and everything it holds
        are dropped, and the next unit of work reads the truth back from the database.
        """
        if self._session is None:
            self._session = self.runtime.session_factory()
        s = self._session
        try:
            result = work(s)
            s.commit()
        except BaseException:
            self._session = None
            try:
                s.rollback()
            finally:
                s.close()
            raise
        calls.release_finished(s)
        return result

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def process(self, items: Iterable[tuple[Message | None, float, Marker | None]]) -> None:
        """Handle one batch in one transaction (the replay command calls this directly)."""
        started = time.perf_counter()
        typed: list[ami_events.AmiEvent | Marker] = []
        for message, received_at, marker in items:
            if marker is not None:
                typed.append(marker)
                continue
            assert message is not None
            if not ami_events.wanted(message):
                self.stats.processed += 1
                continue
            try:
                typed.append(ami_events.parse_event(message, received_at))
            except ami_events.MalformedEvent as exc:
                self.stats.malformed += 1
                self.stats.processed += 1
                log.warning("格式错误的 AMI 事件 / malformed AMI event: %s", exc)
        if not typed:
            return
        self.stats.batches += 1
        self.stats.max_batch = max(self.stats.max_batch, len(typed))
        try:
            unknown = self._apply(typed)
        except Exception:  # noqa: BLE001 - isolate the bad event, keep the rest
            log.exception("批处理失败, 逐条重试 / batch failed, retrying one event at a time")
            self.stats.retried_batches += 1
            unknown = 0
            for item in typed:
                try:
                    unknown += self._apply([item])
                except Exception:  # noqa: BLE001
                    self.stats.failed += 1
                    self.stats.processed += 1 if isinstance(item, ami_events.AmiEvent) else 0
                    log.exception(
                        "AMI 事件处理失败, 已跳过 / event failed and was skipped: %r", item
                    )
        self.stats.unknown_channel += unknown
        self.stats.last_batch_ms = (time.perf_counter() - started) * 1000
        if self.on_batch is not None:
            self.on_batch([t for t in typed if isinstance(t, ami_events.AmiEvent)])

    def _apply(self, typed: list[ami_events.AmiEvent | Marker]) -> int:
        events = [t for t in typed if isinstance(t, ami_events.AmiEvent)]

        def work(s: Session) -> int:
            unknown = 0
            calls.prefetch(
                s,
                linkedids=[x for x in (e.linkedid for e in events) if x],
                interfaces=[x for x in (e.interface for e in events) if x],
            )
            for item in typed:
                if isinstance(item, ami_events.AmiEvent):
                    if not dispatch(s, item):
                        unknown += 1
                else:
                    item(s)
            return unknown

        unknown: int = self._in_session(work)
        handled = len(events)
        self.stats.handled += handled
        self.stats.processed += handled
        return unknown
