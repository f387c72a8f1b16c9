"""The process that routes the chat queue: one thread per console process, woken when a
conversation opens, is taken or ends, when a reservation ends and when a desk becomes ready."""

from __future__ import annotations

from platform_core.chats import queue
from platform_core.runtime import Runtime
from platform_core.task_router import TaskRouter


class ChatRouter(TaskRouter):
    def __init__(self, runtime: Runtime, *, tick_s: float = 1.0) -> None:
        super().__init__(
            runtime,
            name="chat",
            has_work=lambda s: queue.has_work(s),
            route=lambda s: queue.route(s),
            tick_s=tick_s,
        )
