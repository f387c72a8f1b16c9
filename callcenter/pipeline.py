"""From the AMI reader to the database, in order, without ever blocking the reader.

The reader (on the event loop) only tests whether a message matters (:class:`ReaderFilter`) and
appends it to a queue; one writer thread takes everything queued so far as a batch, prefetches
the calls and agents it touches, runs the handlers in arrival order inside one transaction and
commits: the live rows go out as one upsert per table and the events publish after the commit.
The writer is the only one that changes telephony rows, so it keeps its session (and the open
calls and agents in it) from batch to batch. Wrap-up expiry and resync markers run on the same
thread, so they are ordered with the events too.

Faults stay where they belong:

- A message that cannot be typed (a missing field, a number no column holds, anything its
  parser raises) is logged, counted as malformed and skipped alone.
- A batch that fails for its content is rolled back, the session dropped, and the batch
  replayed one event per transaction: the bad event is counted and skipped, never its
  neighbours.
- A batch that fails because the database is unreachable (a connection refused or cut, the
  server shutting down, a lock or a timeout) is kept, in order, and retried with back-off
  while the reader goes on queueing behind it; nothing is skipped. The backlog is bounded
  (``max_backlog``): past it the reader counts and drops events, which the resync that follows
  every recovery (``on_recovered``) makes good as far as Asterisk still knows them. Should a
  database that answers keep refusing a batch, the batch is replayed one event at a time.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from panoramisk.message import Message
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.orm import Session

from callcenter import events as ami_events
from callcenter.handlers import dispatch
from platform_core import clock
from platform_core.calls import service as calls
from platform_core.calls import unit_of_work
from platform_core.calls.variables import named_elder
from platform_core.flows import call_end
from platform_core.runtime import Runtime
from platform_core.telephony.desks import DeskCommand

log = logging.getLogger(__name__)

Marker = Callable[[Session], Any]
Item = tuple[Message | None, float, Marker | None]
Typed = ami_events.AmiEvent | Marker

# What a database that is down, restarting or overloaded raises (psycopg's OperationalError
# covers refused and cut connections, an administrator's shutdown, deadlocks and timeouts).
_TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)

# A UserEvent a health check (or a test) sends through Asterisk: once it is read, everything
# Asterisk sent before it has been read and queued too.
PROBE_EVENT = "HotlineProbe"

# A read carrying this many wanted events means the reader is behind the socket (a burst): the
# writer then waits up to _STEP_BACK_S before its next batch, leaving the interpreter to the
# reader and writing the burst in fewer, larger batches.
_FULL_READ = 30
_STEP_BACK_S = 0.15


class DatabaseUnavailable(Exception):
    """The database did not take a unit of work; ``remaining`` is what is still to be applied."""

    def __init__(self, remaining: list[Typed], cause: BaseException) -> None:
        super().__init__(f"数据库不可用 / database unavailable: {cause!r}")
        self.remaining = remaining


@dataclass
class PipelineStats:
    received: int = 0  # every event the reader saw
    queued: int = 0  # events callcenter acts on
    processed: int = 0  # every event accounted for (ignored ones on arrival)
    handled: int = 0  # typed events whose handler ran and committed
    malformed: int = 0  # messages that could not be typed: logged and skipped alone
    unknown_channel: int = 0  # events about no call of the hotline's
    failed: int = 0  # typed events the database refused for their content: skipped alone
    batches: int = 0
    retried_batches: int = 0
    last_batch_ms: float = 0.0
    max_batch: int = 0
    db_outages: int = 0  # times the database stopped taking the writer's work
    db_retries: int = 0  # attempts to hand it the held events again
    db_down_s: float = 0.0  # how long the last outage lasted (seconds)
    held_max: int = 0  # most events held at once during an outage
    dropped: int = 0  # events the reader dropped because the backlog was full

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
            # CallsTaken too: a resync counts calls answered while callcenter was away from it
            state = (
                m.get("Status"),
                m.get("Paused"),
                m.get("PausedReason"),
                m.get("InCall"),
                m.get("CallsTaken"),
            )
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


def named_elders(events: Iterable[ami_events.AmiEvent]) -> set[int]:
    """The elders the IVR named on the channels of a batch (HOTLINE_ELDER_ID)."""
    values: list[str] = []
    for e in events:
        chan = getattr(e, "chan", None)
        if chan is not None:
            values.append(chan.variables.get("HOTLINE_ELDER_ID", ""))
        if isinstance(e, ami_events.VarSet) and e.variable == "HOTLINE_ELDER_ID":
            values.append(e.value)
    return {i for i in map(named_elder, values) if i is not None}


class EventPipeline:
    def __init__(
        self,
        runtime: Runtime,
        *,
        max_batch: int = 2000,
        wrapup_check_s: float = 0.25,
        max_backlog: int = 100_000,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.max_batch = max_batch
        self.wrapup_check_s = wrapup_check_s
        self.max_backlog = max_backlog
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.stats = PipelineStats()
        self._queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._windows: list[_Window] = []
        self._last_wrapup = 0.0
        # the reader's pace: while its reads come full (a burst), the writer steps back
        self._read_at = 0.0
        self._read_events = 0
        self._reader_busy_until = 0.0
        self._held: list[Typed] = []
        self._down_since: float | None = None
        self._warned_full = False
        self.last_probe: str | None = None
        self.filter = ReaderFilter(runtime.settings.call_callback_context)
        self._session: Session | None = None
        self.on_batch: Callable[[list[ami_events.AmiEvent]], None] | None = None
        # Desks to pause or release because of what a committed batch recorded (wrap-ups).
        self.on_desk_commands: Callable[[list[DeskCommand]], None] | None = None
        # Called on the writer thread once the database takes work again after an outage.
        self.on_recovered: Callable[[], None] | None = None

    # -- reader side (event loop) -------------------------------------------------------------

    def submit(self, message: Message, received_at: float) -> None:
        """Called by the AMI reader for every event: filter, note, enqueue. Never blocks."""
        self.stats.received += 1
        if not self.filter.keep(message):
            self.stats.processed += 1
            if message.get("UserEvent") == PROBE_EVENT:
                self.last_probe = str(message.get("Token", ""))
            return
        if self._pending >= self.max_backlog:
            self.stats.dropped += 1
            self.stats.processed += 1
            if not self._warned_full:
                self._warned_full = True
                log.error(
                    "事件积压已满 (%d), 丢弃新事件直至数据库恢复后重新同步 / backlog full (%d): "
                    "dropping events until the database recovers and a resync runs",
                    self.max_backlog,
                    self.max_backlog,
                )
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
        if received_at != self._read_at:
            self._read_at, self._read_events = received_at, 0
        self._read_events += 1
        if self._read_events == _FULL_READ:
            self._reader_busy_until = time.monotonic() + _STEP_BACK_S
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
        if not self.wait_idle(timeout) and self._pending:
            log.error(
                "停止时仍有 %d 个事件未写入 (数据库不可用?) / stopping with %d events unwritten",
                self._pending,
                self._pending,
            )
        self._stop.set()
        self._queue.put((None, 0.0, None))
        if self._thread is not None:
            self._thread.join(timeout)
        self.close()

    @property
    def backlog(self) -> int:
        """Events (and markers) queued and not yet committed."""
        return self._pending

    @property
    def database_available(self) -> bool:
        """False while the writer holds events the database did not take."""
        return not self._held

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _done(self, n: int) -> None:
        if n:
            with self._idle:
                self._pending -= n
                self._idle.notify_all()

    def _run(self) -> None:
        delay = self.retry_initial_s
        refusals = 0
        while not self._stop.is_set():
            if self._held:
                if self._stop.wait(delay * random.uniform(0.8, 1.2)):
                    break
                delay = min(delay * 2, self.retry_max_s)
                refusals = self._retry_held(refusals)
                if not self._held:
                    delay = self.retry_initial_s
                continue
            try:
                first = self._queue.get(timeout=self.wrapup_check_s)
            except queue.Empty:
                self._expire_wrapups()
                continue
            self._step_back()
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            items = [b for b in batch if b[0] is not None or b[2] is not None]
            self._write(items)
            if not self._held and time.monotonic() - self._last_wrapup >= self.wrapup_check_s:
                self._expire_wrapups()

    def _step_back(self) -> None:
        """While the reader's reads come full, wait (a while at most) before the next batch."""
        deadline = time.monotonic() + _STEP_BACK_S
        while time.monotonic() < min(self._reader_busy_until, deadline) and not self._stop.is_set():
            if self._pending >= self.max_batch:
                return
            time.sleep(0.002)

    def _write(self, items: list[Item]) -> None:
        """Type and apply one batch from the queue; what the database refuses is held."""
        try:
            typed = self._parse(items)
            self._done(len(items) - len(typed))
            self._apply_all(typed)
            self._done(len(typed))
        except DatabaseUnavailable as exc:
            self._done(len(typed) - len(exc.remaining))
            self._hold(exc)
        except Exception:  # noqa: BLE001 - the writer must survive anything
            log.exception("事件批处理失败 / batch processing failed")
            self._done(len(items))

    def _hold(self, exc: DatabaseUnavailable) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.stats.db_outages += 1
            log.error("%s; 事件保留并重试 / events kept, retrying", exc)
        self._held = exc.remaining
        self.stats.held_max = max(self.stats.held_max, self._pending)

    def _retry_held(self, refusals: int) -> int:
        """Hand the held events to the database again; the count of refusals by a database
        that answers (a batch it refuses for good is then replayed one event at a time)."""
        self.stats.db_retries += 1
        self.stats.held_max = max(self.stats.held_max, self._pending)
        held, self._held = self._held, []
        try:
            self._apply_all(held, suspect_content=refusals >= 3)
        except DatabaseUnavailable as exc:
            self._done(len(held) - len(exc.remaining))
            self._held = exc.remaining
            return refusals + 1 if self._database_answers() else 0
        except Exception:  # noqa: BLE001
            log.exception("保留事件重试失败 / retrying the held events failed")
        self._done(len(held))
        if self._down_since is not None:
            self.stats.db_down_s = round(time.monotonic() - self._down_since, 3)
            self._down_since = None
            self._warned_full = False
            log.warning(
                "数据库恢复, %.1f 秒后写入保留事件 / database back after %.1f s; held events written",
                self.stats.db_down_s,
                self.stats.db_down_s,
            )
            if self.on_recovered is not None:
                try:
                    self.on_recovered()
                except Exception:  # noqa: BLE001
                    log.exception("恢复后回调失败 / recovery callback failed")
        return 0

    def _database_answers(self) -> bool:
        try:
            with self.runtime.engine.connect() as c:
                c.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means: not now
            return False

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
            except Exception:  # noqa: BLE001 - the connection may be gone with the database
                log.debug("回滚失败 / rollback failed", exc_info=True)
            finally:
                s.close()
            raise
        unit_of_work.release_finished(s)
        return result

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def process(self, items: Iterable[Item]) -> None:
        """Handle one batch (the replay command calls this directly); raises
        DatabaseUnavailable with what is left when the database cannot be reached."""
        self._apply_all(self._parse(items))

    def _parse(self, items: Iterable[Item]) -> list[Typed]:
        """Typed events and markers, in order; a message that cannot be typed is skipped alone."""
        typed: list[Typed] = []
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
            except Exception:  # noqa: BLE001 - whatever a message holds costs only that message
                self.stats.malformed += 1
                self.stats.processed += 1
                log.exception(
                    "无法解析的 AMI 事件, 已跳过 / unparseable AMI event skipped: %s",
                    message.get("Event"),
                )
        return typed

    def _apply_all(self, typed: list[Typed], *, suspect_content: bool = False) -> None:
        """Apply in one transaction; on a fault of content, one event per transaction.

        A transient fault (the database unreachable) raises DatabaseUnavailable with what is
        left, unless ``suspect_content`` (a database that answers has refused this batch
        several times): then each event is tried alone and one refused while the database
        answers is skipped."""
        if not typed:
            return
        started = time.perf_counter()
        self.stats.batches += 1
        self.stats.max_batch = max(self.stats.max_batch, len(typed))
        try:
            unknown = self._apply(typed)
        except Exception as exc:  # noqa: BLE001 - isolate the bad event, keep the rest
            if isinstance(exc, _TRANSIENT) and not suspect_content:
                raise DatabaseUnavailable(typed, exc) from exc
            log.exception("批处理失败, 逐条重试 / batch failed, retrying one event at a time")
            self.stats.retried_batches += 1
            unknown = 0
            for i, item in enumerate(typed):
                try:
                    unknown += self._apply([item])
                except Exception as one:  # noqa: BLE001
                    if isinstance(one, _TRANSIENT) and not (
                        suspect_content and self._database_answers()
                    ):
                        self.stats.unknown_channel += unknown
                        raise DatabaseUnavailable(typed[i:], one) from one
                    self.stats.failed += 1
                    self.stats.processed += 1 if isinstance(item, ami_events.AmiEvent) else 0
                    log.exception(
                        "AMI 事件处理失败, 已跳过 / event failed and was skipped: %r", item
                    )
        self.stats.unknown_channel += unknown
        self.stats.last_batch_ms = (time.perf_counter() - started) * 1000
        if self.on_batch is not None:
            self.on_batch([t for t in typed if isinstance(t, ami_events.AmiEvent)])

    def _apply(self, typed: list[Typed]) -> int:
        events = [t for t in typed if isinstance(t, ami_events.AmiEvent)]
        desks: list[DeskCommand] = []

        def work(s: Session) -> int:
            unknown = 0
            unit_of_work.prefetch(
                s,
                linkedids=[x for x in (e.linkedid for e in events) if x],
                interfaces=[x for x in (e.interface for e in events) if x],
                elder_ids=named_elders(events),
            )
            for item in typed:
                if isinstance(item, ami_events.AmiEvent):
                    if not dispatch(s, item):
                        unknown += 1
                else:
                    item(s)
            # the agents of answered calls that ended here owe a disposition (same transaction)
            desks.extend(call_end.open_wrapups(s, ended=unit_of_work.take_ended(s)))
            return unknown

        unknown: int = self._in_session(work)
        if desks and self.on_desk_commands is not None:
            self.on_desk_commands(desks)
        handled = len(events)
        self.stats.handled += handled
        self.stats.processed += handled
        return unknown
