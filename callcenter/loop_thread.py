"""An asyncio service on a thread and loop of its own: the one-process demo, tests, benchmarks."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Self

log = logging.getLogger(__name__)

Serve = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class LoopThread:
    """Runs ``serve(stop)`` on its own loop; ``start`` waits until :meth:`is_ready`."""

    def __init__(self, name: str, serve: Serve) -> None:
        self.name = name
        self._serve = serve
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.error: BaseException | None = None

    def is_ready(self) -> bool:
        return True

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def go() -> None:
            self._stop = asyncio.Event()
            await self._serve(self._stop)

        try:
            self.loop.run_until_complete(go())
        except BaseException as exc:  # noqa: BLE001 - reported to whoever started us
            self.error = exc
            log.error("%s 停止: %r / stopped", self.name, exc)

    def start(self, *, wait_connected: float | None = 10.0) -> Self:
        self._thread.start()
        if wait_connected:
            deadline = time.monotonic() + wait_connected
            while time.monotonic() < deadline:
                if self.is_ready():
                    return self
                if self.error is not None:
                    raise self.error
                time.sleep(0.02)
            raise TimeoutError(f"{self.name} 未能连接 AMI / did not connect")
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
