"""The intake pipeline: parsed device reports in, committed records out, then the ack.

Two lanes of writer threads: alarms never wait behind heartbeats. The alarm lane has a few
writers, each owning the devices whose reference hashes to it (so two writers never fold into
the same alarm at once), and each takes whatever has arrived and writes it at once; the
heartbeat lane lingers a moment to write hundreds of heartbeats in one statement, in parts
between which alarms go first. A delivery (one MQTT message, one webhook request) is
acknowledged only after its batch has committed, so a crash, a database outage or a restart
loses nothing: the broker (or the vendor) delivers it again and the alarm service recognises
the repeat.

A batch that fails is one of two things. While the database does not answer, it is an outage:
the batch waits and is written once the database is back, however long that takes, and nothing
is acknowledged meanwhile. While the database answers, the batch itself is at fault: it is
halved until the one report the database refuses is found (in milliseconds, no back-off), and
that report alone is set aside as a reject (counted, kept, acknowledged). Nobody behind it waits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as db_errors

from callcenter.alarm_intake.protocols.base import ProtocolError, Report
from callcenter.alarm_intake.rejects import RejectLog
from platform_core.alarms.intake import keys_running_low, reserve_keys
from platform_core.alarms.schemas import Signal
from platform_core.db import answers
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows import device_reports
from platform_core.flows.device_reports import FaultReport
from platform_core.queues import take_batch
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

Ack = Callable[[bool], None]

# The acknowledgements a writer gives for one committed batch, per thread (see acks_together).
_batch_acks = threading.local()


@contextmanager
def acks_together() -> Iterator[None]:
    """Acknowledgements given inside go out together when it ends: a transport that can send
    many at once defers its send with ``send_with_batch`` (MQTT: a burst's 500 PUBACKs were 500
    wake-ups of the network thread and 500 writes, 8-9 ms of the writer's time between two
    batches)."""
    sends: dict[int, Callable[[], None]] = {}
    _batch_acks.sends = sends
    try:
        yield
    finally:
        _batch_acks.sends = None
        for send in sends.values():
            try:
                send()
            except Exception:  # a lost ack only means a redelivery, recognised as such
                log.warning("确认发送失败 / sending acks failed", exc_info=True)


def send_with_batch(key: int, send: Callable[[], None]) -> bool:
    """Inside ``acks_together``: ``send`` runs once for ``key`` when the batch's acks are all
    given, and True is returned; outside it, False (the caller sends at once)."""
    sends: dict[int, Callable[[], None]] | None = getattr(_batch_acks, "sends", None)
    if sends is None:
        return False
    sends.setdefault(key, send)
    return True


# Errors that may pass by themselves while the database answers (a deadlock, a connection cut
# mid-statement): tried again a few times before the batch is taken to be at fault.
_PASSING = (db_errors.OperationalError, db_errors.InterfaceError, db_errors.DisconnectionError)
_PASSING_ATTEMPTS = 5
# how many recorded signals' keys are remembered for recognising second copies (a burst's
# worth many times over), and how much low-priority work is done in one go
_RECORDED_KEYS = 20_000
_LATER_BULK = 1_000
# a heartbeat batch (up to thousands, one statement each) is written in parts of this many
# deliveries, the alarms let through between parts: a 480-heartbeat batch begun just before a
# burst held the burst's first alarms up 90 ms, the writer and PostgreSQL shared with it
_LOW_PRIORITY_PART = 100
# heartbeats and other low-priority work wait until no alarm has arrived for this long
_ALARM_QUIET_S = 0.15
# the longest low-priority work waits for alarms before it runs for as long again
_LONGEST_YIELD_S = 2.0
_LONGEST_PAUSE_S = 5.0


class _Stopping(Exception):
    """The pipeline stops while the database is away: the batch is left unacknowledged."""


def _short(error: BaseException) -> str:
    """The error's kind and first line, without the statement's parameters (device data)."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


@dataclass
class Delivery:
    reports: list[Report]
    ack: Ack
    transport: str = "mqtt"
    vendor: str = ""
    source: str = ""
    # a second copy of a message (the durable MQTT session): it reports no refusals of its own
    copy: bool = False
    received: float = field(default_factory=time.monotonic)
    # why each report the database refused was set aside (as the webhook's answer tells it)
    set_aside: list[ProtocolError] = field(default_factory=list)
    acknowledged: bool = False

    def done(self) -> None:
        """Acknowledge once: ``ack(True)`` when every report was recorded, ``ack(False)`` when
        one was set aside (it is acknowledged all the same: sending it again changes nothing)."""
        if self.acknowledged:
            return
        self.acknowledged = True
        try:
            self.ack(not self.set_aside)
        except Exception:  # a lost ack only means a redelivery, recognised as such
            log.warning("确认失败 / ack failed", exc_info=True)

    def part(self, reports: list[Report]) -> Delivery:
        """Some of this delivery's reports, written on their own; acknowledged with the whole."""
        return Delivery(
            reports,
            lambda _ok: None,
            transport=self.transport,
            vendor=self.vendor,
            source=self.source,
            copy=self.copy,
            received=self.received,
        )


class Lane:
    """One writer thread with its queue."""

    def __init__(
        self,
        pipeline: IntakePipeline,
        name: str,
        *,
        linger_s: float,
        max_batch: int,
    ) -> None:
        self.pipeline = pipeline
        self.name = name
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.queue: queue.Queue[Delivery | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=f"intake-{name}", daemon=True)
        self.busy = False

    def _run(self) -> None:
        while True:
            batch, ending = take_batch(self.queue, self.max_batch, linger_s=self.linger_s)
            if batch:
                self._write(batch)
            if ending:
                return

    def _write(self, batch: list[Delivery]) -> None:
        self.busy = True
        try:
            if self.name == "alarm":
                self._write_part(batch)
                return
            for start in range(0, len(batch), _LOW_PRIORITY_PART):
                self.pipeline.yield_to_alarms()
                self._write_part(batch[start : start + _LOW_PRIORITY_PART])
        finally:
            self.busy = False

    def _write_part(self, batch: list[Delivery]) -> None:
        try:
            self.pipeline.write(batch, lane=self.name)
        except Exception as error:  # the writer lives on; what it held is kept as rejects
            self.pipeline.count("writer_errors")
            log.exception("告警写入线程出错 / the %s writer failed a batch", self.name)
            for delivery in batch:
                if not delivery.acknowledged:
                    self.pipeline.set_aside_all(delivery, error)

    def idle(self) -> bool:
        return self.queue.empty() and not self.busy


class IntakePipeline:
    def __init__(
        self,
        runtime: Runtime,
        *,
        rejects: RejectLog | None = None,
        alarm_batch: int = 1000,
        alarm_writers: int = 1,
        heartbeat_batch: int = 5000,
        heartbeat_linger_s: float = 0.5,
    ) -> None:
        self.runtime = runtime
        self.rejects = rejects or RejectLog(runtime)
        self._stopping = threading.Event()
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self.alarm_writers = max(1, alarm_writers)
        self.lanes = {
            f"alarm-{n}": Lane(self, "alarm", linger_s=0.0, max_batch=alarm_batch)
            for n in range(self.alarm_writers)
        }
        self.lanes["heartbeat"] = Lane(
            self, "heartbeat", linger_s=heartbeat_linger_s, max_batch=heartbeat_batch
        )
        self.listeners: list[Callable[[list[Any]], None]] = []
        self._started = False
        # work that may wait while alarms are being written (second copies of messages)
        self._later: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._later_thread = threading.Thread(
            target=self._run_later, name="intake-later", daemon=True
        )
        self._later_busy = False
        # the keys of the signals this process recorded lately: the second session's copy of
        # such a message is acknowledged without a transaction of its own
        self._recorded: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._recorded_lock = threading.Lock()
        self._last_alarm = 0.0  # when an alarm last reached a writer's queue (monotonic)
        self._yielding = threading.local()  # per thread: when it may run without yielding

    # --- feeding ---------------------------------------------------------------------

    def start(self) -> IntakePipeline:
        if not self._started:
            for lane in self.lanes.values():
                lane.thread.start()
            self._later_thread.start()
            self._started = True
            self.later(self._reserve_keys)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop; a batch waiting out a database outage is left
        unacknowledged (the broker or the vendor sends it again)."""
        self._stopping.set()
        self._later.put(None)
        self._later_thread.join(timeout)
        for lane in self.lanes.values():
            lane.queue.put(None)
        for lane in self.lanes.values():
            lane.thread.join(timeout)

    def alarms_busy(self) -> bool:
        """An alarm writer has work, or alarms arrived a moment ago: in a burst the writer's
        queue runs dry for tens of milliseconds while the next messages are read, and a
        heartbeat batch begun in that gap held the burst's later alarms up (p99 273 ms against
        157 ms without one)."""
        if time.monotonic() - self._last_alarm < _ALARM_QUIET_S:
            return True
        return any(not lane.idle() for name, lane in self.lanes.items() if name.startswith("alarm"))

    def yield_to_alarms(self) -> None:
        """Let alarm writers have the process (one GIL, few cores) while they have work. A
        thread waits at most ``_LONGEST_YIELD_S``; having waited that long, it runs as long
        again before it waits once more: alarms arriving without a pause (a chattering device,
        a storm lasting minutes) slow heartbeats and copies by half, never stop them."""
        now = time.monotonic()
        if now < getattr(self._yielding, "free_until", 0.0):
            return
        deadline = now + _LONGEST_YIELD_S
        while self.alarms_busy():
            if time.monotonic() >= deadline:
                self._yielding.free_until = time.monotonic() + _LONGEST_YIELD_S
                return
            time.sleep(0.005)

    def later(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the low-priority thread, once alarms are written."""
        self._later.put(work)

    def _run_later(self) -> None:
        while True:
            # whatever waited is done together: copies of a burst's messages, read one by one
            # with a yield between each, were written one transaction each for seconds
            works, ending = take_batch(self._later, _LATER_BULK)
            self._later_busy = True
            try:
                for work in works:
                    # a burst beginning mid-bulk is not kept waiting for the rest of it
                    self.yield_to_alarms()
                    try:
                        work()
                    except Exception:
                        log.exception("intake background work failed")
            finally:
                self._later_busy = False
            if ending:
                return

    def count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[key] += n

    def submit(self, delivery: Delivery, *, lane: str | None = None) -> None:
        """Queue a delivery; an empty one (everything in it refused) is acknowledged at once,
        and so is a second copy of signals this process has recorded already."""
        if not delivery.reports:
            delivery.done()
            return
        if delivery.copy and self._all_recorded(delivery.reports):
            self.count("signals.redelivered", len(delivery.reports))
            delivery.done()
            return
        if lane is None:
            lane = (
                "heartbeat" if all(isinstance(r, Heartbeat) for r in delivery.reports) else "alarm"
            )
        self.count(f"{lane}_deliveries")
        if lane == "alarm":
            if not delivery.copy:  # a copy is low-priority work itself: it holds nothing back
                self._last_alarm = time.monotonic()
            # the same device always to the same writer (crc32: stable across processes)
            ref = getattr(delivery.reports[0], "device_ref", "").strip().upper()
            lane = f"alarm-{zlib.crc32(ref.encode()) % self.alarm_writers}"
        self.lanes[lane].queue.put(delivery)

    def _all_recorded(self, reports: list[Report]) -> bool:
        with self._recorded_lock:
            return all(
                isinstance(r, Signal) and (r.device_ref, r.msg_key) in self._recorded
                for r in reports
            )

    def _note_recorded(self, signals: list[Signal]) -> None:
        with self._recorded_lock:
            for sig in signals:
                self._recorded[(sig.device_ref, sig.msg_key)] = None
            while len(self._recorded) > _RECORDED_KEYS:
                self._recorded.popitem(last=False)

    def refuse(
        self, error: ProtocolError, *, transport: str, vendor: str, source: str, raw: str | bytes
    ) -> None:
        self.count(f"rejected.{error.reason}")
        self.rejects.add(
            reason=error.reason,
            detail=error.detail,
            transport=transport,
            vendor=vendor,
            source=source,
            raw=raw,
        )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                all(lane.idle() for lane in self.lanes.values())
                and self._later.empty()
                and not self._later_busy
            ):
                return True
            time.sleep(0.01)
        return False

    # --- writing ---------------------------------------------------------------------

    def write(self, batch: list[Delivery], *, lane: str) -> None:
        """Record the batch, then acknowledge each delivery (see the module's docstring)."""
        try:
            self._store(batch)
        except _Stopping:
            return  # delivered again later, by the broker or the vendor
        with acks_together():
            for delivery in batch:
                delivery.done()
        self.count(f"{lane}_batches")

    def _store(self, batch: list[Delivery]) -> None:
        """Commit ``batch``, or find by halving what the database refuses in it and set that
        aside."""
        refused = self._commit_or_wait(batch)
        if refused is None:
            return
        if len(batch) > 1:
            middle = len(batch) // 2
            self._store(batch[:middle])
            self._store(batch[middle:])
            return
        [delivery] = batch
        if len(delivery.reports) > 1:  # a vendor's batch: only the refused report is set aside
            middle = len(delivery.reports) // 2
            for part in (
                delivery.part(delivery.reports[:middle]),
                delivery.part(delivery.reports[middle:]),
            ):
                self._store([part])
                delivery.set_aside.extend(part.set_aside)
            return
        self._set_aside(delivery, delivery.reports[0], refused)

    def _commit_or_wait(self, batch: list[Delivery]) -> Exception | None:
        """None once committed; the error when the database answers but refuses this batch.
        Raises _Stopping when the pipeline stops while the database is away."""
        pause, passing, away_since = 0.1, 0, None
        while True:
            try:
                self._commit(batch)
                if away_since is not None:
                    log.warning(
                        "数据库已恢复, 等待 %.1fs 的告警已写入 / database back after %.1fs",
                        time.monotonic() - away_since,
                        time.monotonic() - away_since,
                    )
                return None
            except Exception as error:
                self.count("write_errors")
                if answers(self.runtime.engine):
                    passing += 1
                    if not isinstance(error, _PASSING) or passing >= _PASSING_ATTEMPTS:
                        self.count("write_refused")
                        log.warning(
                            "数据库拒绝写入 %d 条, 拆分查找 / the database refused a batch of %d: %s",
                            len(batch),
                            len(batch),
                            _short(error),
                        )
                        return error
                elif away_since is None:
                    away_since = time.monotonic()
                    self.count("database_outages")
                    log.error(
                        "数据库不可用, 告警等待写入 (不确认, 不丢失) / database away, alarms wait: %s",
                        _short(error),
                    )
            if self._stopping.wait(pause):
                raise _Stopping
            pause = min(pause * 2, _LONGEST_PAUSE_S)

    def _commit(self, batch: list[Delivery]) -> None:
        signals: list[Signal] = []
        copies: list[bool] = []
        beats: list[Heartbeat] = []
        faults: list[FaultReport] = []
        for delivery in batch:
            for report in delivery.reports:
                if isinstance(report, Signal):
                    signals.append(report)
                    copies.append(delivery.copy)
                elif isinstance(report, Heartbeat):
                    beats.append(report)
                else:
                    faults.append(report)
        outcomes: list[Any] = []
        copied: list[bool] = []
        with self.runtime.session() as s:
            if signals:
                # the family's SMS goes out after this commit: the alarm reaches the console first
                outcomes.extend(
                    device_reports.receive_signals(s, signals=signals, tell_family=False)
                )
                copied.extend(copies)
            if faults:
                outcomes.extend(device_reports.receive_faults(s, reports=faults))
            unknown_beats: list[str] = []
            if beats:
                hb = device_reports.receive_heartbeats(s, beats=beats)
                outcomes.extend(hb.restores)
                unknown_beats = hb.heartbeats.unknown
                recorded_beats = hb.heartbeats.recorded
        # committed: the batch's events went out together, one row of the outbox handed on in
        # one round trip right after the commit (kept and sent again should Redis be away)
        if signals:
            self._note_recorded(signals)
        if beats:
            self.count("heartbeats", recorded_beats)
        for ref in unknown_beats:
            self.refuse(
                ProtocolError("unknown_device", "heartbeat"),
                transport="",
                vendor="",
                source=ref,
                raw=ref,
            )
        raised = device_reports.raised_alarm_ids(
            [o for o in outcomes if getattr(o, "signal", None) is not None]
        )
        if raised:
            self.later(lambda: self._tell_families(raised))
        if signals and keys_running_low(self.runtime.engine):
            self.later(self._reserve_keys)
        copied.extend([False] * (len(outcomes) - len(copied)))
        for o, copy in zip(outcomes, copied, strict=True):
            # whichever copy of a message comes first is recorded, the other is "redelivered"
            self.count(f"signals.{o.result}")
            if o.result == "unknown_device" and not copy:
                sig = getattr(o, "signal", None) or getattr(o, "report", None)
                self.refuse(
                    ProtocolError("unknown_device", getattr(sig, "device_ref", "")),
                    transport=getattr(sig, "transport", ""),
                    vendor=getattr(sig, "vendor", ""),
                    source=getattr(sig, "device_ref", ""),
                    raw=getattr(sig, "raw", "") or getattr(sig, "device_ref", ""),
                )
        for listener in self.listeners:
            try:
                listener(outcomes)
            except Exception:
                log.exception("intake listener failed")

    def _reserve_keys(self) -> None:
        """Keys for the next burst's alarms, drawn while no alarm waits (see KeyReserve)."""
        with self.runtime.session() as s:
            reserve_keys(s)

    def _tell_families(self, alarm_ids: list[int]) -> None:
        """SMS to the families of the emergencies just raised (idempotent per alarm, so a retry
        after a failure sends nothing twice); a failure is logged, the agent's button remains."""
        from platform_core.alarms import notify

        for attempt in range(3):
            try:
                with self.runtime.session() as s:
                    sent = notify.tell_family_of_raise(s, alarm_ids=alarm_ids)
                self.count("family_sms", sent)
                return
            except Exception:
                log.warning(
                    "家属短信失败 (第 %d 次) / family SMS failed", attempt + 1, exc_info=True
                )
                time.sleep(0.5 * (attempt + 1))
        log.error(
            "家属短信未能发出, 告警 %s / family SMS not queued for alarms %s", alarm_ids, alarm_ids
        )

    def _set_aside(self, delivery: Delivery, report: Report, error: BaseException | None) -> None:
        """One report the database refuses: kept as a reject, the delivery acknowledged."""
        self.count("set_aside")
        why = ProtocolError("not_stored", _short(error) if error else type(report).__name__)
        delivery.set_aside.append(why)
        log.error(
            "设备消息无法保存, 已留存待查 / a %s could not be stored, kept as a reject: %s",
            type(report).__name__,
            why.detail,
        )
        self.rejects.add(
            reason=why.reason,
            detail=why.detail,
            transport=delivery.transport,
            vendor=delivery.vendor,
            source=delivery.source,
            raw=getattr(report, "raw", "") or repr(report)[:500],
        )

    def set_aside_all(self, delivery: Delivery, error: BaseException) -> None:
        """Every report of a delivery its writer failed on, kept as rejects; acknowledged."""
        for report in delivery.reports:
            self._set_aside(delivery, report, error)
        delivery.done()

    def snapshot(self) -> dict[str, Any]:
        with self._stats_lock:
            out: dict[str, Any] = dict(self.stats)
        out["queued"] = {name: lane.queue.qsize() for name, lane in self.lanes.items()}
        return out
