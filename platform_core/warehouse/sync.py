"""Facts flow from the primary database into the warehouse, continuously and exactly once.

A pass reads, for every fact, the source rows changed since the fact's cursor and inserts them
with their version; the cursor then moves to the pass's start less a look-back, so a row whose
transaction committed late is read again next time. Reading a row twice is harmless: the
tables are ReplacingMergeTree on the row's identity with the version, and queries read FINAL.
The cursor lives in the warehouse itself, written after the rows: a crash between the two
replays the pass, which changes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from platform_core import clock
from platform_core.settings import Settings
from platform_core.warehouse import rollups
from platform_core.warehouse.engine import Warehouse, WarehouseError
from platform_core.warehouse.facts import FACTS, Fact
from platform_core.warehouse.schema import SYNC_STATE, ensure_schema
from platform_core.warehouse.sources import Source, ch_time

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class PassResult:
    started: datetime
    facts: int = 0
    seconds: float = 0.0


def cursors(wh: Warehouse) -> dict[str, datetime]:
    """Each fact's cursor (where its next pass starts reading)."""
    rows = wh.query(f"SELECT fact, toUnixTimestamp64Micro(cursor) AS c FROM {SYNC_STATE} FINAL")
    return {r["fact"]: EPOCH + timedelta(microseconds=int(r["c"])) for r in rows}


def run_pass(
    wh: Warehouse,
    source: Source,
    *,
    lookback_s: float,
    thresholds: rollups.Thresholds = (20, 5, "Asia/Shanghai"),
    now: datetime | None = None,
) -> PassResult:
    """One pass over every fact; returns when the warehouse holds every change committed
    before it started (and the calls' daily rollup for ``thresholds``: service level and
    short-abandon seconds, time zone)."""
    started = now or clock.now()
    result = PassResult(started)
    known = cursors(wh)
    state_rows = []
    version = _micros(started)
    for fact in FACTS:
        since = known.get(fact.name)
        source.copy(wh, fact, since=since, window=None, pass_version=version)
        result.facts += 1
        cursor = max(EPOCH, started - timedelta(seconds=lookback_s))
        state_rows.append((fact.name, cursor))
    calls_since = known.get("calls")
    rollups.refresh_calls(
        wh,
        thresholds,
        changed_since_version=_micros(calls_since) if calls_since else 0,
        version=version,
    )
    _write_state(wh, state_rows, started)
    result.seconds = (clock.now() - started).total_seconds()
    return result


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _write_state(wh: Warehouse, rows: list[tuple[str, datetime]], started: datetime) -> None:
    values = ", ".join(
        f"('{name}', '{ch_time(cursor)}', '{ch_time(started)}', 0, {_micros(started)})"
        for name, cursor in rows
    )
    wh.command(
        f"INSERT INTO {SYNC_STATE} (fact, cursor, pass_started, rows, _version) VALUES {values}"
    )


@dataclass
class SyncStatus:
    last_pass: datetime | None
    lag_s: float | None
    facts: dict[str, datetime] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_pass": self.last_pass.isoformat() if self.last_pass else None,
            "lag_s": None if self.lag_s is None else round(self.lag_s, 1),
        }


def status(wh: Warehouse, *, now: datetime | None = None) -> SyncStatus:
    """How fresh the warehouse is: every change committed before ``last_pass`` is in it, so
    the figures may miss at most ``lag_s`` seconds of activity."""
    rows = wh.query(
        f"SELECT fact, toUnixTimestamp64Micro(pass_started) AS p FROM {SYNC_STATE} FINAL"
    )
    passes = {r["fact"]: EPOCH + timedelta(microseconds=int(r["p"])) for r in rows}
    if not passes:
        return SyncStatus(None, None)
    last = min(passes.values())
    now = now or clock.now()
    return SyncStatus(last, max(0.0, (now - last).total_seconds()), passes)


def _windows(lo: datetime, hi: datetime, days: int) -> list[tuple[datetime, datetime]]:
    out = []
    start = lo.replace(hour=0, minute=0, second=0, microsecond=0)
    while start <= hi:
        end = start + timedelta(days=days)
        out.append((start, end))
        start = end
    return out


@dataclass
class BackfillProgress:
    fact: str
    fact_index: int
    facts: int
    source_rows: int
    window: int
    windows: int


def backfill(
    wh: Warehouse,
    source: Source,
    *,
    lookback_s: float,
    thresholds: rollups.Thresholds = (20, 5, "Asia/Shanghai"),
    window_days: int = 31,
    progress: Callable[[BackfillProgress], None] | None = None,
    now: datetime | None = None,
    facts: Sequence[Fact] = FACTS,
) -> dict[str, int]:
    """Read every source row of ``facts`` into the warehouse, fact by fact and month by month,
    reporting progress after each window; leaves the cursors of every fact where a running
    sync carries on. Safe to repeat and to run beside the sync: rows already there collapse
    into one."""
    ensure_schema(wh, source.attach_statements())
    started = now or clock.now()
    counts: dict[str, int] = {}
    for i, fact in enumerate(facts, start=1):
        span = source.span(wh, fact)
        if span is None:
            counts[fact.name] = 0
            if progress:
                progress(BackfillProgress(fact.name, i, len(facts), 0, 0, 0))
            continue
        rows, lo, hi = span
        windows = _windows(lo, hi, window_days)
        for w, window in enumerate(windows, start=1):
            source.copy(wh, fact, since=None, window=window, pass_version=_micros(started))
            if progress:
                progress(BackfillProgress(fact.name, i, len(facts), rows, w, len(windows)))
        counts[fact.name] = rows
    rollups.rebuild_calls(wh, thresholds, version=_micros(started))
    _write_state(
        wh,
        [(f.name, max(EPOCH, started - timedelta(seconds=lookback_s))) for f in FACTS],
        started,
    )
    return counts


class WarehouseSync:
    """The sync as a thread: a pass every ``warehouse_sync_interval_s``; a pass that fails (the
    database or the warehouse away) is retried with back-off and the cursors stay, so the
    next good pass catches up."""

    def __init__(self, wh: Warehouse, source: Source, settings: Settings) -> None:
        self.wh = wh
        self.source = source
        self.interval_s = settings.warehouse_sync_interval_s
        self.lookback_s = settings.warehouse_lookback_s
        self.thresholds: rollups.Thresholds = (
            settings.service_level_s,
            settings.short_abandon_s,
            settings.timezone,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.failures = 0
        self.last_error: str | None = None

    def start(self) -> WarehouseSync:
        ensure_schema(self.wh, self.source.attach_statements())
        self._thread = threading.Thread(target=self._run, name="warehouse-sync", daemon=True)
        self._thread.start()
        return self

    def run_once(self) -> PassResult:
        result = run_pass(
            self.wh, self.source, lookback_s=self.lookback_s, thresholds=self.thresholds
        )
        self.passes += 1
        return result

    def _run(self) -> None:
        delay = self.interval_s
        while not self._stop.is_set():
            try:
                self.run_once()
                delay = self.interval_s
                self.last_error = None
            except (WarehouseError, SQLAlchemyError, OSError) as exc:
                self.failures += 1
                self.last_error = str(exc)[:200]
                log.warning("仓库同步失败, 稍后重试 / warehouse sync failed, retrying: %s", exc)
                delay = min(30.0, max(self.interval_s, delay * 2))
            self._stop.wait(delay)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
