"""Rejected device messages: counted, logged clearly, and kept for the vendor's support desk.

A broken device can send thousands of bad messages a minute, so each (reason, vendor) keeps a
sample of ``per_minute`` messages per minute in full; the rest of that minute is written as one
row whose ``count`` says how many it stands for. Writes happen on a thread of their own: a flood
of garbage never slows the alarm lane down, and a rejected message is acknowledged as soon as
it is handed over here.

Each row is stored on its own terms: text is made storable first (no NUL, no lone surrogate);
a batch the database refuses is written again row by row, and a row it still refuses is kept
without its raw text, so one row never costs its neighbours. While the database is away rows
wait (up to ``max_pending``) and are written once it is back; ``unstored`` counts any lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from platform_core.alarms.models import RejectedDeviceMessage
from platform_core.db import answers, storable_text, utcnow
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

RAW_NOT_STORABLE = "(原文无法保存 / raw text not storable)"


@dataclass
class _Row:
    transport: str
    vendor: str
    source: str
    reason: str
    detail: str
    raw: str
    count: int = 1
    received_at: datetime = field(default_factory=utcnow)

    def values(self, *, with_raw: bool = True) -> dict[str, Any]:
        return {
            "received_at": self.received_at,
            "transport": storable_text(self.transport[:6]),
            "vendor": storable_text(self.vendor[:20]),
            "source": storable_text(self.source[:200]),
            "reason": storable_text(self.reason[:30]),
            "detail": storable_text(self.detail[:500]),
            "raw": storable_text(self.raw[:2000]) if with_raw else RAW_NOT_STORABLE,
            "count": self.count,
        }


class RejectLog:
    def __init__(
        self,
        runtime: Runtime,
        *,
        per_minute: int = 20,
        flush_s: float = 1.0,
        max_pending: int = 10_000,
    ) -> None:
        self.runtime = runtime
        self.per_minute = per_minute
        self.flush_s = flush_s
        self.max_pending = max_pending
        self.counts: Counter[str] = Counter()
        self.unstored = 0  # rows that could not be kept (logged and counted only)
        self._window: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (minute, kept)
        self._overflow: dict[tuple[str, str], _Row] = {}
        self._lock = threading.Lock()
        self._rows: queue.Queue[_Row | None] = queue.Queue()
        self._pending: list[_Row] = []  # waiting for the database to come back
        self._retry_at = 0.0
        self._outage_pause = 0.0
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
                storable_text(detail[:200]),
                storable_text(vendor) or "?",
                storable_text(source[:100]),
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
            try:
                if not self._step():
                    return
            except Exception:  # the writer lives on whatever happens to one round
                log.exception("拒收记录线程出错 / the reject writer failed a round")
                time.sleep(self.flush_s)

    def _step(self) -> bool:
        """One round: take what has arrived, close finished windows, write. False on close."""
        rows: list[_Row] = []
        try:
            item = self._rows.get(timeout=self.flush_s)
        except queue.Empty:
            item = _Row("", "", "", "", "", "", 0)  # tick: flush finished windows
        if item is None:
            self._flush_all()
            self._drain_into(rows)
            self._retry_at = 0.0
            self._write(rows, final=True)
            return False
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
        return True

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

    def _write(self, rows: list[_Row], *, final: bool = False) -> None:
        self._pending.extend(rows)
        if not self._pending or time.monotonic() < self._retry_at:
            return
        batch, self._pending = self._pending, []
        try:
            self._insert([r.values() for r in batch])
        except Exception:
            if not answers(self.runtime.engine):
                self._wait_for_database(batch, final=final)
                return
            # the database answers but refuses the batch: row by row, so no row costs another
            for row in batch:
                self._write_alone(row)
            return
        self._outage_pause = 0.0

    def _write_alone(self, row: _Row) -> None:
        for with_raw in (True, False):
            try:
                self._insert([row.values(with_raw=with_raw)])
                return
            except Exception:
                log.warning(
                    "拒收记录无法写入%s / a rejected message could not be stored%s",
                    "" if with_raw else ", 已放弃",
                    "" if with_raw else ", given up",
                    exc_info=not with_raw,
                )
        self.unstored += row.count

    def _wait_for_database(self, batch: list[_Row], *, final: bool) -> None:
        if final:
            self.unstored += sum(r.count for r in batch)
            log.error(
                "数据库不可用, %d 条拒收记录未能保存 / database away: %d rejected messages not stored",
                len(batch),
                len(batch),
            )
            return
        dropped = batch[: max(0, len(batch) - self.max_pending)]
        if dropped:
            self.unstored += sum(r.count for r in dropped)
        self._pending = batch[len(dropped) :]
        self._outage_pause = min(max(2 * self._outage_pause, 1.0), 30.0)
        self._retry_at = time.monotonic() + self._outage_pause
        log.warning(
            "数据库不可用, %d 条拒收记录待写 / database away, %d rejected messages waiting",
            len(self._pending),
            len(self._pending),
        )

    def _insert(self, values: list[dict[str, Any]]) -> None:
        with self.runtime.session() as s:
            s.execute(insert(RejectedDeviceMessage), values)

    def close(self, timeout: float = 5.0) -> None:
        self._rows.put(None)
        self._thread.join(timeout)
