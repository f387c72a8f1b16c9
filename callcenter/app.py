"""The callcenter service: the one AMI connection, the ordered writer, resync on every
(re)connect, after every outage of the database and on a period, and the telephony command
server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from callcenter.ami import AmiActionTimeout, AmiClient, AmiError
from callcenter.ami_login import ami_client
from callcenter.events import ACCEPTED_EVENTS
from callcenter.loop_thread import LoopThread
from callcenter.pipeline import EventPipeline
from callcenter.queue_log import QueueLogFollower
from callcenter.resync import ResyncStats, resync
from platform_core import clock
from platform_core.process import (
    SWITCH_INTERVAL_S,
    favour_waiting_threads,
    settle_service_process,
)
from platform_core.runtime import Runtime
from platform_core.telephony.desks import DeskCommands

log = logging.getLogger(__name__)

# How soon callers too recent to judge at one resync are judged at another (seconds).
QUEUE_LOG_SETTLE_S = 3.0


class CallCenter:
    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        secret: str | None = None,
        resync_interval_s: float | None = None,
        **ami_options: Any,
    ) -> None:
        s = runtime.settings
        self.runtime = runtime
        self.pipeline = EventPipeline(runtime, max_backlog=s.callcenter_backlog_max)
        self.pipeline.on_recovered = self._database_recovered
        # the wrap-up pauses the writer decides go out through telephony after their commit
        self.desks = DeskCommands(runtime, name="wrapup-desks")
        self.pipeline.on_desk_commands = self.desks.send
        self.ami = ami_client(
            s,
            host=host,
            port=port,
            username=username or s.ami_username,
            secret=s.ami_secret if secret is None else secret,
            on_message=self.pipeline.submit,
            on_connected=self._connected,
            **{"accept_events": ACCEPTED_EVENTS, **ami_options},
        )
        self.resync_interval_s = (
            s.ami_resync_interval_s if resync_interval_s is None else resync_interval_s
        )
        self.queue_log = (
            QueueLogFollower(s.queue_log_path, lookback_s=s.queue_log_lookback_s)
            if s.queue_log_path
            else None
        )
        self.resyncs = 0
        self.resync_failures = 0
        self.resync_stats = ResyncStats()
        self.last_resync: dict[str, Any] = {}
        self._synced_connection = 0  # the connection (by count) whose resync has been applied
        self._resync_lock: asyncio.Lock | None = None
        self.switch_interval_s = SWITCH_INTERVAL_S
        self.loop: asyncio.AbstractEventLoop | None = None
        from callcenter.commands import CommandExecutor

        self.commands = CommandExecutor(self)

    # -- resync -------------------------------------------------------------------------------

    async def _connected(self, ami: AmiClient) -> None:
        self.pipeline.filter.reset()
        await self.resync_now("connected")

    async def resync_now(self, reason: str) -> None:
        """Read Asterisk's lists and queue the resync (one at a time); raises what the AMI
        actions raise (the caller decides whether the connection goes)."""
        if self._resync_lock is None:
            self._resync_lock = asyncio.Lock()
        async with self._resync_lock:
            connection = self.ami.stats.connects

            def applied(counts: dict[str, int]) -> None:
                self.last_resync = {"reason": reason, "at": clock.now().isoformat(), **counts}
                self._synced_connection = connection
                if counts.get("queue_log_deferred"):
                    self._resync_later("queue_log", QUEUE_LOG_SETTLE_S)

            await resync(
                self.ami,
                self.pipeline,
                self.resync_stats,
                on_applied=applied,
                queue_log=self.queue_log,
            )
            self.resyncs += 1

    def _resync_later(self, reason: str, delay_s: float) -> None:
        """From the writer thread: another resync in ``delay_s`` (callers queue_log showed gone
        too soon after the lists were read to judge yet)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(
                lambda: loop.call_later(
                    delay_s, lambda: loop.create_task(self._resync_soon(reason))
                )
            )

    async def _resync_soon(self, reason: str) -> None:
        """A resync nobody waits for: one that times out drops the connection (Asterisk is not
        answering it; the reconnect resyncs), any other failure waits for the next."""
        if not self.ami.connected:
            return
        try:
            await self.resync_now(reason)
        except AmiActionTimeout:
            self.resync_failures += 1
            log.error("重新同步超时, 断开重连 / resync timed out: dropping the connection")
            self.ami.abort()
        except AmiError as exc:
            self.resync_failures += 1
            log.warning("重新同步未完成 (%s) / resync not done: %s", reason, exc)

    async def _resync_periodically(self, stop: asyncio.Event) -> None:
        while self.resync_interval_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.resync_interval_s)
            if stop.is_set():
                return
            if self.pipeline.database_available:
                await self._resync_soon("period")

    def _database_recovered(self) -> None:
        """On the writer thread, once the database took the held events again."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(
                lambda: loop.create_task(self._resync_soon("database recovered"))
            )

    # -- running ------------------------------------------------------------------------------

    def unready_reason(self) -> str | None:
        """Why callcenter cannot record calls as they happen now, or None when it can: logged
        in to Asterisk, this connection's resync applied, and the database taking the work."""
        if not self.ami.connected:
            return "AMI not connected"
        if self._synced_connection != self.ami.stats.connects:
            return "AMI resync not applied yet"
        if not self.pipeline.database_available:
            return "database not taking the writer's events"
        return None

    @property
    def ready(self) -> bool:
        return self.unready_reason() is None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or a refused password ends it with an error)."""
        self.loop = asyncio.get_running_loop()
        favour_waiting_threads(self.switch_interval_s)
        settle_service_process()
        stop = stop or asyncio.Event()
        self.pipeline.start()
        self.commands.start()
        background = [asyncio.create_task(self._resync_periodically(stop))]
        try:
            await self.ami.run(stop)
        finally:
            stop.set()
            await asyncio.gather(*background, return_exceptions=True)
            await self.commands.stop()
            self.pipeline.stop()
            if self.queue_log is not None:
                self.queue_log.close()
            self.desks.close()

    def stats(self) -> dict[str, Any]:
        return {
            "ami": self.ami.stats.as_dict(),
            "pipeline": self.pipeline.stats.as_dict(),
            "resyncs": self.resyncs,
            "resync_failures": self.resync_failures,
            "resync_unreadable": dict(self.resync_stats),
            "last_resync": self.last_resync,
            "queue_log": None
            if self.queue_log is None
            else {
                "lines": self.queue_log.lines_read,
                "unreadable": self.queue_log.unreadable,
                "pending": self.queue_log.pending,
            },
            "commands": self.commands.stats(),
        }


class CallCenterThread(LoopThread):
    """callcenter on its own thread and loop: the one-process demo, tests, benchmarks."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        self.center = CallCenter(runtime, **kwargs)
        super().__init__("callcenter", self.center.run)

    def is_ready(self) -> bool:
        return bool(self.center.resyncs) and self.center.pipeline.wait_idle(0.05)
