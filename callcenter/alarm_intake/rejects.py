"""Rejected device messages: counted, logged clearly, and kept for the vendor's support desk.

A broken device can send thousands of bad messages a minute, so each (reason, vendor) keeps a
sample of ``per_minute`` messages per minute in full; the rest of that minute is written as one
row whose ``count`` says how many it stands for. Writes happen on a thread of their own: a flood
of garbage never slows the alarm lane down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import insert

from platform_core.alarms.models import RejectedDeviceMessage
from platform_core.db import utcnow
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class _Row:
    transport: str
    vendor: str
    source: str
    reason: str
    detail: str
    raw: str
    count: int = 1


class RejectLog:
    def __init__(self, runtime: Runtime, *, per_minute: int = 20, flush_s: float = 1.0) -> None:
        self.runtime = runtime
        self.per_minute = per_minute
        self.flush_s = flush_s
        self.counts: Counter[str] = Counter()
        self._window: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (minute, kept)
        self._overflow: dict[tuple[str, str], _Row] = {}
        self._lock = threading.Lock()
        self._rows: queue.Queue[_Row | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="intake-rejects", daemon=True)
        self._thread.start()

    def add(
        self,
        *,
        reason: str,
        detail: str,
        transport: str,
        vendor: str,
        source: str,
        raw: str | bytes,
    ) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        key, minute = (reason, vendor), int(time.time() // 60)
        with self._lock:
            self.counts[reason] += 1
            window, kept = self._window.get(key, (minute, 0))
            if window != minute:
                self._flush_overflow(key)
                window, kept = minute, 0
            if kept < self.per_minute:
                self._window[key] = (window, kept + 1)
                sample = True
            else:
                sample = False
                over = self._overflow.get(key)
                if over is None:
                    self._overflow[key] = _Row(
                        transport,
                        vendor,
                        source[:200],
                        reason,
                        "(同类消息汇总 / and more of the same)",
                        text[:500],
                        1,
                    )
                else:
                    over.count += 1
        if sample:
            log.warning(
                "设备消息被拒收: %s (%s) 厂商=%s 来源=%s / device message rejected",
                reason,
                detail[:200],
                vendor or "?",
                source[:100],
            )
            self._rows.put(
                _Row(
                    transport[:6], vendor[:20], source[:200], reason[:30], detail[:500], text[:2000]
                )
            )

    def _flush_overflow(self, key: tuple[str, str]) -> None:
        over = self._overflow.pop(key, None)
        if over is not None:
            log.warning(
                "另有 %d 条同类消息被拒收: %s / %d more rejected",
                over.count,
                over.reason,
                over.count,
            )
            self._rows.put(over)

    def _run(self) -> None:
        while True:
            rows: list[_Row] = []
            try:
                item = self._rows.get(timeout=self.flush_s)
            except queue.Empty:
                item = _Row("", "", "", "", "", "", 0)  # tick: flush finished windows
            if item is None:
                self._flush_all()
                self._drain_into(rows)
                self._write(rows)
                return
            if item.count:
                rows.append(item)
            self._drain_into(rows)
            now_minute = int(time.time() // 60)
            with self._lock:
                for key, (minute, _kept) in list(self._window.items()):
                    if minute != now_minute:
                        self._flush_overflow(key)
                        del self._window[key]
            self._drain_into(rows)
            self._write(rows)

    def _drain_into(self, rows: list[_Row]) -> None:
        while True:
            try:
                item = self._rows.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._rows.put(None)  # closing: leave the sentinel for the loop to see
                return
            if item.count:
                rows.append(item)

    def _flush_all(self) -> None:
        with self._lock:
            for key in list(self._overflow):
                self._flush_overflow(key)

    def _write(self, rows: list[_Row]) -> None:
        if not rows:
            return
        try:
            with self.runtime.session() as s:
                s.execute(
                    insert(RejectedDeviceMessage),
                    [
                        {
                            "received_at": utcnow(),
                            "transport": r.transport[:6],
                            "vendor": r.vendor[:20],
                            "source": r.source[:200],
                            "reason": r.reason[:30],
                            "detail": r.detail[:500],
                            "raw": r.raw[:2000],
                            "count": r.count,
                        }
                        for r in rows
                    ],
                )
        except Exception:  # the counters and the log still have them
            log.exception("拒收记录写入失败 / writing %d rejected messages failed", len(rows))

    def close(self, timeout: float = 5.0) -> None:
        self._rows.put(None)
        self._thread.join(timeout)
