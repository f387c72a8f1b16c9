"""The process that routes the alarm queue: one thread per console process.

A :class:`~platform_core.task_router.TaskRouter` running :func:`platform_core.alarms.queue.route`
whenever something may have changed who gets which alarm (an alarm raised, taken or closed, a
desk ready again, a reservation ended) and at least every ``tick_s``; the desks' pauses and
releases each pass decides go to telephony in order.
"""

from __future__ import annotations

from platform_core.alarms import queue
from platform_core.runtime import Runtime
from platform_core.task_router import TaskRouter


class AlarmRouter(TaskRouter):
    def __init__(self, runtime: Runtime, *, tick_s: float = 1.0) -> None:
        super().__init__(
            runtime,
            name="alarm",
            has_work=lambda s: queue.has_work(s),
            route=lambda s: queue.route(s),
            tick_s=tick_s,
        )
