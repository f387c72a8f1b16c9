"""Hands committed outbox rows on to the event bus and the job queue.

Three paths, one hand-off (``Relay._hand``):

- the fast path: right after a commit the committing process hands on its own rows that are due
  (``hand_committed``), so an event reaches the consoles and a dispatch job the workers within
  milliseconds, as before there was an outbox;
- the catch-up loop (``start``; in every ``hotline worker``, and in each process of the embedded
  default): rows the fast path missed, once the grace after their commit has passed, and timers
  when they fall due. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several relays share
  the work and a relay that dies mid-batch leaves its rows to the others. While Redis is away
  the rows wait; they go out in order within a poll of its return;
- the check of handed RQ jobs (in the loop): a job queued on RQ keeps its row until RQ says it
  ended; a job Redis lost, or one a killed worker had started, is queued again under its id.

Bookkeeping after the fast path (deleting published rows, marking queued ones) is written by a
background thread in batches, so the committing thread pays no extra round trip.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
from sqlalchemy import Engine, Row, Select, Table, Update, bindparam, delete, func, select, update

from platform_core import clock
from platform_core.key_lists import KEYS, among
from platform_core.outbox.models import EntryKind, OutboxEntry

if TYPE_CHECKING:
    from platform_core.jobs import JobQueue
    from platform_core.outbox.service import Publisher, Staged
    from platform_core.settings import Settings

log = logging.getLogger(__name__)

_T: Table = OutboxEntry.__table__  # type: ignore[assignment]
_BATCH = 200
_MAX_BACKOFF_S = 600.0


def is_outage(exc: BaseException) -> bool:
    """Redis (or the network to it) is away: wait and retry, the rows are not at fault."""
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError)


def due_rows(now: datetime) -> Select[Any]:
    """The next rows whose turn has come, claimed for this transaction."""
    return (
        select(_T)
        .where(_T.c.handed_at.is_(None), _T.c.relay_after <= now)
        .order_by(_T.c.relay_after, _T.c.id)
        .limit(_BATCH)
        .with_for_update(skip_locked=True)
    )


def read_along_index(conn: Any) -> None:
    """Have PostgreSQL read the waiting (or handed) rows along their own partial index, in its
    order, for the rest of this transaction.

    Every row the outbox ever held leaves an entry in those indexes until a vacuum: an events
    row deleted once handed on, a job's row updated when handed. A bitmap scan (the planner's
    choice for a small table) visits the table for each such entry on every pass: 8,200 pages
    and 5-17 ms a pass in the dispatch benchmark, six workers polling each second (40 s of
    PostgreSQL's time in six minutes). A plain index scan marks the dead entries as it passes
    them and skips them afterwards: 200 pages and 0.1 ms from the second pass on."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")


class Relay:
    def __init__(
        self, *, engine: Engine, event_bus: Publisher, jobs: JobQueue, settings: Settings
    ) -> None:
        self.engine = engine
        self.bus = event_bus
        self.jobs = jobs
        self.poll_s = settings.outbox_poll_s
        self.check_handed_s = settings.outbox_check_handed_s
        self.acks = _Acks(engine)
        self.worker_name: str | None = None
        self._wakes: list[float] = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last_check = 0.0
        self.stats = {
            "fast": 0,
            "relayed": 0,
            "requeued": 0,
            "failed": 0,
            "outages": 0,
            "errors": 0,
        }

    # -- the fast path ---------------------------------------------------------------------

    def hand_committed(self, staged: Sequence[Staged], *, bus: Publisher | None = None) -> None:
        """Right after a commit (``after_commit``): hand on the rows that are due; note when the
        others fall due. Never raises: the commit stands, and what fails here the loop retries."""
        done: list[int] = []
        handed: list[int] = []
        away = False
        for s in staged:
            if not s.due_now:
                self._wake_at(s.relay_after.timestamp())
                continue
            if away:
                continue
            try:
                self._hand(s.kind, s.payload, s.func_path, s.job_id, s.queue, bus)
            except Exception as exc:  # noqa: BLE001
                if is_outage(exc):
                    log.warning("交接暂缓, 由中继补发 / hand-off deferred to the relay: %s", exc)
                    away = True
                else:
                    log.exception("出件箱交接失败 / handing outbox row %s failed", s.id)
                continue
            self.stats["fast"] += 1
            (handed if self._tracks(s.kind) else done).append(s.id)
        self.acks.add(done=done, handed=handed)

    def _tracks(self, kind: str) -> bool:
        """A job queued where it survives this process keeps its row until it ended."""
        return kind == EntryKind.JOB and self.jobs.durable

    def _hand(
        self,
        kind: str,
        payload: list[Any],
        func_path: str | None,
        job_id: str | None,
        queue: str | None,
        bus: Publisher | None = None,
    ) -> None:
        if kind == EntryKind.EVENTS:
            (bus or self.bus).publish_many(payload)
        else:
            assert func_path is not None
            self.jobs.enqueue(func_path, *payload, job_id=job_id, queue=queue or "default")

    # -- the catch-up loop -----------------------------------------------------------------

    def start(self, *, worker_name: str | None = None) -> Relay:
        """Run the loop in a thread (once; a later call only renames the worker); the RQ worker
        ``worker_name`` is said to be alive while the loop runs."""
        self.worker_name = worker_name
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
            self._thread.start()
        return self

    def _wake_at(self, at: float) -> None:
        with self._cond:
            heapq.heappush(self._wakes, at)
            self._cond.notify()

    def _run(self) -> None:
        backoff = self.poll_s
        failing_since: float | None = None
        last_said = 0.0
        while not self._stopping():
            self._keep_worker_alive()
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the loop outlives any outage
                outage = is_outage(exc)
                self.stats["outages" if outage else "errors"] += 1
                now = time.monotonic()
                if failing_since is None:  # said in full once, then a line a minute
                    failing_since = last_said = now
                    if outage:
                        log.warning("出件箱中继等待 Redis / relay waiting for Redis: %s", exc)
                    else:
                        log.exception("出件箱中继失败 / outbox relay pass failed")
                elif now - last_said >= 60:
                    last_said = now
                    log.warning(
                        "出件箱中继仍失败 %.0fs / relay failing for %.0fs: %s",
                        now - failing_since,
                        now - failing_since,
                        exc,
                    )
                backoff = min(backoff * 2, 5.0)
                self._sleep(backoff)
                continue
            if failing_since is not None:
                log.warning("出件箱中继恢复 / outbox relay resumed")
                failing_since = None
            backoff = self.poll_s
            self._sleep(self.poll_s)

    def _stopping(self) -> bool:
        with self._cond:
            return self._stop

    def _sleep(self, seconds: float) -> None:
        """Until the poll is due, a timer this process committed falls due, or stop."""
        with self._cond:
            deadline = time.time() + seconds
            while not self._stop:
                while self._wakes and self._wakes[0] <= time.time():
                    heapq.heappop(self._wakes)
                    return
                until = min([deadline, *self._wakes[:1]])
                left = until - time.time()
                if left <= 0:
                    return
                self._cond.wait(left)

    def _keep_worker_alive(self) -> None:
        if self.worker_name is None:
            return
        try:
            self.jobs.mark_alive(self.worker_name, ttl_s=max(5.0, 5 * self.poll_s))
        except Exception as exc:  # noqa: BLE001 - Redis away: the pass below says so
            log.debug("worker liveness not refreshed: %s", exc)

    def run_once(self) -> int:
        """One pass: hand on what is due, then (now and then) check the handed RQ jobs."""
        n = self.relay_due()
        if self.jobs.durable and time.monotonic() - self._last_check >= self.check_handed_s:
            self._last_check = time.monotonic()
            n += self.check_handed()
        return n

    def relay_due(self) -> int:
        """Hand on every row whose turn has come, in the order the turns came; returns how many
        went."""
        total = 0
        while True:
            now = clock.now()
            with self.engine.begin() as conn:
                read_along_index(conn)
                rows = conn.execute(due_rows(now)).all()
                if not rows:
                    return total
                outage = self._hand_rows(conn, rows)
            total += len(rows)
            if outage is not None:
                raise outage
            if len(rows) < _BATCH:
                return total

    def _hand_rows(self, conn: Any, rows: Sequence[Row[Any]]) -> BaseException | None:
        done: list[int] = []
        handed: list[int] = []
        outage: BaseException | None = None
        now = clock.now()
        for r in rows:
            try:
                self._hand(r.kind, r.payload, r.func_path, r.job_id, r.queue)
            except Exception as exc:  # noqa: BLE001
                if is_outage(exc):
                    outage = exc
                    break
                self._failed(conn, r, exc, now)
                continue
            self.stats["relayed"] += 1
            (handed if self._tracks(r.kind) else done).append(r.id)
        _settle(conn, done=done, handed=handed, now=now)
        return outage

    def _failed(self, conn: Any, row: Row[Any], exc: Exception, now: Any) -> None:
        """One bad row waits longer each time; it never holds up the rows behind it."""
        self.stats["failed"] += 1
        log.error("出件箱行 %s 交接失败 / outbox row %s failed: %s", row.id, row.id, exc)
        wait = min(_MAX_BACKOFF_S, 2.0 ** (row.attempts + 1))
        conn.execute(
            update(_T)
            .where(_T.c.id == row.id)
            .values(
                attempts=row.attempts + 1,
                last_error=f"{type(exc).__name__}: {exc}"[:500],
                relay_after=now + timedelta(seconds=wait),
            )
        )

    def check_handed(self) -> int:
        """Rows of RQ jobs queued a while ago: gone once the job ended; queued again (same id)
        when Redis lost the job or the worker that started it is dead. Returns jobs re-queued."""
        now = clock.now()
        with self.engine.begin() as conn:
            read_along_index(conn)
            rows = conn.execute(
                select(_T)
                .where(
                    _T.c.handed_at.is_not(None),
                    _T.c.handed_at <= now - timedelta(seconds=self.check_handed_s),
                )
                .order_by(_T.c.handed_at)
                .limit(_BATCH * 2)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            states = self.jobs.states([r.job_id for r in rows])
            ended = [r.id for r in rows if states.get(r.job_id) == "ended"]
            lost = [r for r in rows if states.get(r.job_id) == "lost"]
            requeued: list[int] = []
            for r in lost:
                log.warning("任务 %s 已丢失, 重新排队 / job lost, queued again", r.job_id)
                self._hand(r.kind, r.payload, r.func_path, r.job_id, r.queue)
                requeued.append(r.id)
            if ended:
                conn.execute(_DELETE, {KEYS: ended})
            if requeued:
                conn.execute(
                    update(_T)
                    .where(_T.c.id.in_(requeued))
                    .values(handed_at=now, attempts=_T.c.attempts + 1)
                )
        self.stats["requeued"] += len(requeued)
        return len(requeued)

    # -- lifecycle -------------------------------------------------------------------------

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until the fast path's bookkeeping is written (tests, shutdown)."""
        return self.acks.drain(timeout)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.acks.close(timeout)


def _settle(conn: Any, *, done: Iterable[int], handed: Iterable[int], now: Any) -> None:
    done, handed = list(done), list(handed)
    if done:
        conn.execute(_DELETE, {KEYS: done})
    if handed:
        conn.execute(*mark_handed(handed, now))


# Rows handed on, found by their key alone; one handed before keeps its time. Asking for
# ``handed_at IS NULL`` in the WHERE let PostgreSQL read the rows through the index of waiting
# rows, every scheduled job in it (an order's SLA timers, its acceptance window): 23 ms per
# statement at 24,000 of them in the dispatch benchmark, growing with every order, until the
# workers fell behind. Both statements are built once (see key_lists).
_MARK_HANDED = (
    update(_T)
    .where(among(_T.c.id))
    .values(handed_at=func.coalesce(_T.c.handed_at, bindparam("now")))
)
_DELETE = delete(_T).where(among(_T.c.id))


def mark_handed(ids: list[int], now: Any) -> tuple[Update, dict[str, Any]]:
    """The statement marking ``ids`` handed at ``now``, and its parameters."""
    return _MARK_HANDED, {KEYS: ids, "now": now}


class _Acks:
    """The fast path's bookkeeping, written in batches by one background thread."""

    _MAX_PENDING = 100_000  # beyond this (the database away for long) the relay re-sends instead

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._done: list[int] = []
        self._handed: list[int] = []
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, *, done: list[int], handed: list[int]) -> None:
        if not (done or handed):
            return
        with self._cond:
            if self._closed:
                return  # the rows stay; a relay hands them on again (at least once)
            self._done.extend(done)
            self._handed.extend(handed)
            del self._done[: max(0, len(self._done) - self._MAX_PENDING)]
            del self._handed[: max(0, len(self._handed) - self._MAX_PENDING)]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-acks", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._done or self._handed or self._closed):
                    self._cond.wait()
                if self._closed and not (self._done or self._handed):
                    return
                done, handed = self._done, self._handed
                self._done, self._handed = [], []
                self._busy = True
            try:
                with self.engine.begin() as conn:
                    _settle(conn, done=done, handed=handed, now=clock.now())
            except Exception:  # noqa: BLE001 - the database away: try again shortly
                log.warning("出件箱记账失败, 稍后重试 / outbox bookkeeping failed", exc_info=True)
                with self._cond:
                    self._done[:0] = done
                    self._handed[:0] = handed
                    closed = self._closed
                if closed:
                    return
                time.sleep(0.5)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            time.sleep(0.02)  # let a few commits' rows gather into the next batch

    def drain(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._done or self._handed or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.drain(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
