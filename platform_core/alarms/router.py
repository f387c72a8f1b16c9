"""The process that routes the alarm queue: one thread per console process.

It runs a routing pass (:func:`platform_core.alarms.queue.route`) whenever something may have
changed who gets which alarm (an alarm raised, taken or closed, a desk ready again, a
reservation ended; callers say so with :meth:`AlarmRouter.wake`) and at least every
``tick_s`` (a reservation running out needs no event, and an event lost with the bus is made
good within a tick). Passes in several processes are serialised by the database. The desks'
pauses and releases go through telephony on a thread of their own, in the order they were
decided (:class:`platform_core.telephony.desks.DeskCommands`), so a callcenter that is slow to
answer never holds up the next offer.
"""

from __future__ import annotations

import logging
import threading

from platform_core.alarms import queue
from platform_core.runtime import Runtime
from platform_core.telephony.desks import DeskCommands

log = logging.getLogger(__name__)


class AlarmRouter:
    def __init__(self, runtime: Runtime, *, tick_s: float = 1.0) -> None:
        self.runtime = runtime
        self.tick_s = tick_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._desks = DeskCommands(runtime, name="alarm-desks")
        self.passes = 0

    def start(self) -> AlarmRouter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alarm-router", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._desks.close()

    def wake(self) -> None:
        """Route now (cheap to call often: wakes coalesce into one pass)."""
        self._wake.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.route_once()
                failures = 0
            except Exception:  # the database may be restarting: the next tick tries again
                failures += 1
                if failures == 1 or failures % 60 == 0:
                    log.exception("告警分配失败 / routing the alarm queue failed (%d)", failures)

    def route_once(self) -> queue.RoutePass | None:
        """One pass, committed; then the desks' commands are handed to telephony."""
        with self.runtime.session() as s:
            if not queue.has_work(s):
                return None
        with self.runtime.session() as s:
            done = queue.route(s)
        self.passes += 1
        self._desks.send(done.commands)
        return done
