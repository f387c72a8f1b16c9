"""The intake pipeline: parsed device reports in, committed records out, then the ack.

Two lanes of writer threads: alarms never wait behind heartbeats. The alarm lane has a few
writers, each owning the devices whose reference hashes to it (so two writers never fold into
the same alarm at once), and each takes whatever has arrived and writes it at once; the
heartbeat lane lingers a moment to write thousands of heartbeats in one statement. A delivery (one MQTT message, one webhook
request) is acknowledged only after its batch has committed, so a crash, a database outage or
a restart loses nothing: the broker (or the vendor) delivers it again and the alarm service
recognises the repeat. A batch that fails is retried with back-off; one that keeps failing is
split, and a single delivery that still fails is set aside as rejected (logged, counted, kept)
so it cannot block the lane for everyone behind it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.alarm_intake.bus import BatchPublisher
from callcenter.alarm_intake.protocols.base import ProtocolError, Report
from callcenter.alarm_intake.rejects import RejectLog
from platform_core.alarms.schemas import Signal
from platform_core.alarms.timers import Timer
from platform_core.devices.heartbeats import Heartbeat
from platform_core.flows import device_reports
from platform_core.flows.device_reports import FaultReport
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

Ack = Callable[[bool], None]


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

    def _take(self) -> list[Delivery] | None:
        first = self.queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.linger_s
        while len(batch) < self.max_batch:
            wait = deadline - time.monotonic()
            try:
                item = self.queue.get(timeout=wait) if wait > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)
                break
            batch.append(item)
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            if self.name != "alarm":
                self.pipeline.yield_to_alarms()
            self.busy = True
            try:
                self.pipeline.write(batch, lane=self.name)
            finally:
                self.busy = False

    def idle(self) -> bool:
        return self.queue.empty() and not self.busy


class IntakePipeline:
    def __init__(
        self,
        runtime: Runtime,
        *,
        rejects: RejectLog | None = None,
        timer_sink: Callable[[list[Timer]], None] | None = None,
        alarm_batch: int = 200,
        alarm_writers: int = 1,
        heartbeat_batch: int = 5000,
        heartbeat_linger_s: float = 0.5,
        max_attempts: int = 5,
    ) -> None:
        self.runtime = runtime
        self.rejects = rejects or RejectLog(runtime)
        self.events = BatchPublisher(
            runtime.event_bus,
            redis_url=runtime.settings.redis_url,
            namespace=runtime.settings.redis_namespace,
        )
        self.timer_sink = timer_sink
        self.max_attempts = max_attempts
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

    # --- feeding ---------------------------------------------------------------------

    def start(self) -> IntakePipeline:
        if not self._started:
            for lane in self.lanes.values():
                lane.thread.start()
            self._later_thread.start()
            self._started = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._later.put(None)
        self._later_thread.join(timeout)
        for lane in self.lanes.values():
            lane.queue.put(None)
        for lane in self.lanes.values():
            lane.thread.join(timeout)

    def alarms_busy(self) -> bool:
        return any(not lane.idle() for name, lane in self.lanes.items() if name.startswith("alarm"))

    def yield_to_alarms(self, longest_s: float = 2.0) -> None:
        """Let alarm writers have the process (one GIL, few cores) while they have work; never
        for longer than ``longest_s``, so heartbeats are late at most that much."""
        deadline = time.monotonic() + longest_s
        while self.alarms_busy() and time.monotonic() < deadline:
            time.sleep(0.005)

    def later(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the low-priority thread, once alarms are written."""
        self._later.put(work)

    def _run_later(self) -> None:
        while True:
            work = self._later.get()
            if work is None:
                return
            self.yield_to_alarms()
            self._later_busy = True
            try:
                work()
            except Exception:
                log.exception("intake background work failed")
            finally:
                self._later_busy = False

    def count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[key] += n

    def submit(self, delivery: Delivery, *, lane: str | None = None) -> None:
        """Queue a delivery; an empty one (everything in it refused) is acknowledged at once."""
        if not delivery.reports:
            delivery.ack(True)
            return
        if lane is None:
            lane = (
                "heartbeat" if all(isinstance(r, Heartbeat) for r in delivery.reports) else "alarm"
            )
        self.count(f"{lane}_deliveries")
        if lane == "alarm":
            # the same device always to the same writer (crc32: stable across processes)
            ref = getattr(delivery.reports[0], "device_ref", "").strip().upper()
            lane = f"alarm-{zlib.crc32(ref.encode()) % self.alarm_writers}"
        self.lanes[lane].queue.put(delivery)

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
        attempt = 0
        while True:
            attempt += 1
            try:
                self._commit(batch)
                break
            except Exception:
                self.count("write_errors")
                if attempt >= self.max_attempts:
                    if len(batch) > 1:
                        log.error(
                            "告警写入反复失败, 拆分处理 %d 条 / batch keeps failing, splitting %d",
                            len(batch),
                            len(batch),
                        )
                        middle = len(batch) // 2
                        self.write(batch[:middle], lane=lane)
                        self.write(batch[middle:], lane=lane)
                        return
                    log.exception(
                        "设备消息无法处理, 已隔离 / a delivery cannot be written, set aside"
                    )
                    self._set_aside(batch[0])
                    return
                pause = min(0.1 * 2 ** (attempt - 1), 5.0)
                log.warning(
                    "写入失败 (第 %d 次), %.1fs 后重试 / write failed (attempt %d), retrying",
                    attempt,
                    pause,
                    attempt,
                    exc_info=True,
                )
                time.sleep(pause)
        for delivery in batch:
            try:
                delivery.ack(True)
            except Exception:  # a lost ack only means a redelivery, recognised as such
                log.warning("确认失败 / ack failed", exc_info=True)
        self.count(f"{lane}_batches")

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
        events = self.events.session_bus()
        with self.runtime.session() as s:
            s.info["event_bus"] = events
            if self.timer_sink is not None:
                s.info["timer_sink"] = self.timer_sink
            if signals:
                # the family's SMS goes out after this commit: the alarm reaches the console first
                outcomes.extend(
                    device_reports.receive_signals(s, signals=signals, tell_family=False)
                )
                copied.extend(copies)
            if faults:
                outcomes.extend(device_reports.receive_faults(s, reports=faults))
            if beats:
                hb = device_reports.receive_heartbeats(s, beats=beats)
                outcomes.extend(hb.restores)
                self.count("heartbeats", hb.heartbeats.recorded)
                for ref in hb.heartbeats.unknown:
                    self.refuse(
                        ProtocolError("unknown_device", "heartbeat"),
                        transport="",
                        vendor="",
                        source=ref,
                        raw=ref,
                    )
        events.flush()  # committed: the batch's events go out together
        raised = device_reports.raised_alarm_ids(
            [o for o in outcomes if getattr(o, "signal", None) is not None]
        )
        if raised:
            self.later(lambda: self._tell_families(raised))
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

    def _set_aside(self, delivery: Delivery) -> None:
        self.count("set_aside")
        for report in delivery.reports:
            self.rejects.add(
                reason="processing_error",
                detail=type(report).__name__,
                transport=delivery.transport,
                vendor=delivery.vendor,
                source=delivery.source,
                raw=getattr(report, "raw", "") or repr(report)[:500],
            )
        try:
            delivery.ack(True)
        except Exception:
            log.warning("确认失败 / ack failed", exc_info=True)

    def snapshot(self) -> dict[str, Any]:
        with self._stats_lock:
            out: dict[str, Any] = dict(self.stats)
        out["queued"] = {name: lane.queue.qsize() for name, lane in self.lanes.items()}
        return out
