"""The callcenter service: the one AMI connection, the ordered writer, resync on every
(re)connect, and the telephony command server."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import Any

from callcenter.ami import AmiClient
from callcenter.events import ACCEPTED_EVENTS
from callcenter.pipeline import EventPipeline
from callcenter.resync import resync
from platform_core.process import settle_service_process
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)


class CallCenter:
    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        secret: str | None = None,
        **ami_options: Any,
    ) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.pipeline = EventPipeline(runtime)
        options: dict[str, Any] = {
            "accept_events": ACCEPTED_EVENTS,
            "auth": s.ami_auth,
            "action_timeout": s.ami_action_timeout_s,
            "ping_interval": s.ami_ping_interval_s,
            "reconnect_max": s.ami_reconnect_max_s,
            "auth_retries": s.ami_auth_retries,
        }
        options.update(ami_options)
        self.ami = AmiClient(
            host=host or s.ami_host,
            port=port or s.ami_port,
            username=username or s.ami_username,
            secret=s.ami_secret if secret is None else secret,
            on_message=self.pipeline.submit,
            on_connected=self._connected,
            **options,
        )
        self.resyncs = 0
        self.switch_interval_s = 0.0005
        self.loop: asyncio.AbstractEventLoop | None = None
        from callcenter.commands import CommandExecutor

        self.commands = CommandExecutor(self)

    async def _connected(self, ami: AmiClient) -> None:
        self.pipeline.filter.reset()
        await resync(ami, self.pipeline)
        self.resyncs += 1

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or a refused password ends it with an error)."""
        self.loop = asyncio.get_running_loop()
        # The writer thread waits on PostgreSQL thousands of times a second and the reader
        # thread parses without pause; with CPython's default 5 ms switch interval each of those
        # waits can cost the writer a full interval before it gets the GIL back.
        sys.setswitchinterval(self.switch_interval_s)
        settle_service_process()
        stop = stop or asyncio.Event()
        self.pipeline.start()
        self.commands.start()
        try:
            await self.ami.run(stop)
        finally:
            await self.commands.stop()
            self.pipeline.stop()

    def stats(self) -> dict[str, Any]:
        return {
            "ami": self.ami.stats.as_dict(),
            "pipeline": self.pipeline.stats.as_dict(),
            "resyncs": self.resyncs,
            "commands": self.commands.stats(),
        }


class CallCenterThread:
    """callcenter on its own thread and loop: the one-process demo, tests, benchmarks."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        self.center = CallCenter(runtime, **kwargs)
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="callcenter", daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def go() -> None:
            self._stop = asyncio.Event()
            await self.center.run(self._stop)

        try:
            self.loop.run_until_complete(go())
        except BaseException as exc:  # noqa: BLE001 - reported to whoever started us
            self.error = exc
            log.error("callcenter 停止: %r / callcenter stopped", exc)

    def start(self, *, wait_connected: float | None = 10.0) -> CallCenterThread:
        self._thread.start()
        if wait_connected:
            deadline = time.monotonic() + wait_connected
            while time.monotonic() < deadline:
                if self.center.resyncs and self.center.pipeline.wait_idle(0.05):
                    return self
                if self.error is not None:
                    raise self.error
                time.sleep(0.02)
            raise TimeoutError("callcenter 未能连接 AMI / callcenter did not connect")
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
