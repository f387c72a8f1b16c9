"""The thread that routes a task queue (alarms, online conversations): one per queue and
console process.

It runs a routing pass whenever something may have changed who gets which task (a task raised,
taken or closed, a desk ready again, a reservation ended; callers say so with
:meth:`TaskRouter.wake`) and at least every ``tick_s`` (a reservation running out needs no
event, and an event lost with the bus is made good within a tick). Passes in several processes
are serialised by the database. The desks' pauses and releases a pass decides go through
telephony on a thread of their own, in the order they were decided
(:class:`platform_core.telephony.desks.DeskCommands`), so a callcenter that is slow to answer
never holds up the next offer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.orm import Session

from platform_core.runtime import Runtime
from platform_core.telephony.desks import DeskCommand, DeskCommands

log = logging.getLogger(__name__)


class RoutePass(Protocol):
    commands: list[DeskCommand]


class TaskRouter:
    def __init__(
        self,
        runtime: Runtime,
        *,
        name: str,
        has_work: Callable[[Session], bool],
        route: Callable[[Session], Any],
        tick_s: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.tick_s = tick_s
        self._has_work = has_work
        self._route = route
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._desks = DeskCommands(runtime, name=f"{name}-desks")
        self.passes = 0

    def start(self) -> TaskRouter:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"{self.name}-router", daemon=True
            )
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
                    log.exception(
                        "任务分配失败 / routing the %s queue failed (%d)", self.name, failures
                    )

    def route_once(self) -> Any:
        """One pass, committed; then the desks' commands are handed to telephony."""
        with self.runtime.session() as s:
            if not self._has_work(s):
                return None
        with self.runtime.session() as s:
            done = self._route(s)
        self.passes += 1
        if done.commands:
            self._desks.send(done.commands)
        return done
