"""The simulator on its own thread and event loop, driven from ordinary (threaded) code: the
one-process demo, tests and benchmarks place calls and wait for them from outside the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from callcenter.pbx_sim.config import CallerConfig, SimConfig
from callcenter.pbx_sim.pbx import PbxSimulator, SimCall
from callcenter.pbx_sim.server import AmiServer

T = TypeVar("T")


class SimulatorThread:
    def __init__(self, config: SimConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host, self.port = host, port
        self.pbx = PbxSimulator(config)
        self.server = AmiServer(self.pbx)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="pbx-sim", daemon=True)

    def start(self) -> int:
        self._thread.start()
        self.port = self.run(self.server.start(self.host, self.port))
        return self.port

    def run(self, coro: Any, timeout: float | None = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run ``fn`` on the simulator's loop and return its result."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def go() -> None:
            try:
                fut.set_result(fn(*args, **kw))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(go)
        return fut.result(30)

    def place_call(self, caller: CallerConfig) -> SimCall:
        return self.call(self.pbx.place_call, caller)

    def wait(self, call: SimCall, timeout: float = 30) -> SimCall:
        async def waiter() -> SimCall:
            return await asyncio.wait_for(asyncio.shield(call.done), timeout)

        return self.run(waiter(), timeout + 1)  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.run(self.server.stop(), timeout=10)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(5)
