"""The IVR sessions' records, written by one thread in batches.

Every call opens a record when its flow starts and closes it when the flow ends: two commits a
call, on a pool of threads, was most of the FastAGI server's work, and those threads held the
interpreter lock often enough to delay the event loop (and so every caller's next prompt) by
20-90 ms at the 99th percentile of the paced benchmark. Here one thread takes whatever
openings and closings are queued and writes them in one transaction: at 60 calls a second that
is a few commits a second, and one thread, not eight, competing with the event loop.

A batch that fails is one of two things. While the database does not answer, it is an outage:
the batch waits and is written once the database is back, however long that takes (the calls go
on meanwhile; a call's hand-off waits for its record's id a bounded time only). While the
database answers, the batch is at fault: it is written again item by item, so one bad record
costs only itself, and the caller of that item gets the error.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import answers
from platform_core.ivr import service as ivr_service
from platform_core.queues import take_batch
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

# the most records one transaction writes
BATCH = 500
# the longest pause between two tries while the database is away
_LONGEST_PAUSE_S = 5.0


@dataclass
class _Item:
    write: Callable[[Session], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self._settle, result, error)
        except RuntimeError:  # the loop closed while the record was written: nobody waits
            log.debug("IVR record settled after its event loop closed")

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class SessionRecords:
    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self.runtime = runtime
        self.actor = actor
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ivr-records", daemon=True)
        self._stopping = threading.Event()
        self._thread.start()
        self.batches = 0
        self.outages = 0

    def open(self, **fields: Any) -> asyncio.Future[int]:
        """Queue the opening of a session's record; the future gives its id."""
        return self._submit(lambda s: ivr_service.open_session(s, actor=self.actor, **fields))

    def close(self, session_id: int, result: ivr_service.SessionResult) -> asyncio.Future[None]:
        """Queue the closing of a record with the call's outcome."""
        return self._submit(
            lambda s: ivr_service.close_session(
                s, actor=self.actor, session_id=session_id, result=result
            )
        )

    def _submit(self, write: Callable[[Session], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Item(write, loop, future))
        return future

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread (a batch waiting out an outage is given
        up, its callers told)."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch, ending = take_batch(self._queue, BATCH)
            if batch:
                self._write(batch)
            if ending:
                return

    def _write(self, batch: list[_Item]) -> None:
        pause, away_since = 0.1, None
        while True:
            try:
                results = []
                with self.runtime.session() as s:
                    for item in batch:
                        results.append(item.write(s))
                break
            except Exception as error:  # noqa: BLE001 - an outage waits, a refusal is split
                if self._stopping.is_set() or answers(self.runtime.engine):
                    self._refused(batch, error)
                    return
                if away_since is None:
                    away_since = time.monotonic()
                    self.outages += 1
                    log.error(
                        "数据库不可用, %d 条 IVR 会话记录等待写入 / database away, %d IVR records wait: %s",
                        len(batch),
                        len(batch),
                        type(error).__name__,
                    )
                self._stopping.wait(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_S)
        if away_since is not None:
            log.warning(
                "数据库已恢复, IVR 会话记录已写入 / database back after %.1fs, IVR records written",
                time.monotonic() - away_since,
            )
        self.batches += 1
        for item, result in zip(batch, results, strict=True):
            item.settle(result)

    def _refused(self, batch: list[_Item], error: Exception) -> None:
        """A batch the database answered but refused: each item on its own."""
        if len(batch) == 1:
            batch[0].settle(error=error)
            return
        log.warning(
            "IVR 会话记录批量写入失败, 逐条重试 / a batch of %d IVR records failed, one by one: %s",
            len(batch),
            type(error).__name__,
        )
        for item in batch:
            self._write([item])
