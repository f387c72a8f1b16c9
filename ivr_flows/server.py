"""The FastAGI server: one asyncio task per call, the flow named by the script path.

``AGI(agi://ivr:4573/main)`` runs the flow named ``main``. Whatever cannot be served (an
unknown script, garbage on the wire, a fault in a flow) is logged and the call goes back to the
dialplan with the fallback queue set, so the caller reaches a person.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ivr_flows.agi_channel import (
    MAX_LINE,
    AgiChannel,
    AgiEnvironment,
    AgiError,
    AgiHangup,
    read_environment,
)
from ivr_flows.backend import Backend
from ivr_flows.engine import CallContext, record_id, run_flow, set_handoff_variables
from ivr_flows.prompts import PromptLibrary
from ivr_flows.records import SessionRecords
from ivr_flows.registry import FlowRegistry
from platform_core.ivr.service import SessionResult
from platform_core.process import favour_waiting_threads, settle_service_process
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

ENV_TIMEOUT_S = 5.0


@dataclass
class ServerStats:
    """Counters and command round-trip times (the last ``keep`` of them) measured in the server."""

    keep: int = 200_000
    sessions: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    round_trips: collections.deque[float] = field(default_factory=collections.deque)
    active: int = 0

    def __post_init__(self) -> None:
        self.round_trips = collections.deque(maxlen=self.keep)

    def record_round_trip(self, _verb: str, seconds: float) -> None:
        self.round_trips.append(seconds)

    def percentile_ms(self, q: float) -> float | None:
        if not self.round_trips:
            return None
        ordered = sorted(self.round_trips)
        index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
        return ordered[index] * 1000


class FastAgiServer:
    def __init__(
        self,
        runtime: Runtime,
        *,
        registry: FlowRegistry | None = None,
        prompts: PromptLibrary | None = None,
        host: str | None = None,
        port: int | None = None,
        reply_timeout: float | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.registry = registry or FlowRegistry(_flows_dir(settings.ivr_flows_dir))
        self.prompts = prompts or PromptLibrary(settings.ivr_sounds_dir, settings.ivr_sound_prefix)
        self.host = host if host is not None else settings.agi_host
        self.port = port if port is not None else settings.agi_port
        self.reply_timeout = reply_timeout or settings.ivr_reply_timeout_s
        self.backend = Backend(runtime)
        self.records = SessionRecords(runtime, self.backend.actor)
        self.stats = ServerStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=MAX_LINE, backlog=1024
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info(
            "FastAGI 服务已启动 / FastAGI server listening on %s:%s, flows: %s",
            self.host,
            self.port,
            ", ".join(self.registry.names()) or "-",
        )
        settle_service_process()  # flows and prompts are loaded: what stays is frozen
        # The event loop makes a system call for every line it reads or writes, and each one
        # lets the GIL go; with the database threads busy, CPython's default 5 ms switch
        # interval made each of them wait up to that long to get it back (send() averaged 1 ms
        # in the benchmark's profile), and the calls' think time grew by as much per command.
        favour_waiting_threads()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def stop(self, *, grace: float = 5.0) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        self.records.stop()
        self.backend.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self.handle(reader, writer)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one FastAGI connection from the environment block to the socket's close."""
        peer = writer.get_extra_info("peername")
        self.stats.active += 1
        try:
            try:
                env = await read_environment(reader, timeout=ENV_TIMEOUT_S)
            except AgiHangup:
                log.info("对端在发送环境前断开 / peer %s closed before the AGI environment", peer)
                return
            except AgiError as exc:
                log.warning(
                    "不是合法的 AGI 请求, 转人工 / not a valid AGI request from %s: %s", peer, exc
                )
                await self._fallback(
                    AgiChannel(
                        reader,
                        writer,
                        AgiEnvironment({}),
                        reply_timeout=min(5.0, self.reply_timeout),
                    )
                )
                self.stats.outcomes["failed"] += 1
                return
            channel = AgiChannel(
                reader,
                writer,
                env,
                reply_timeout=self.reply_timeout,
                on_round_trip=self.stats.record_round_trip,
            )
            await self._serve_call(channel)
        finally:
            self.stats.active -= 1
            try:
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _serve_call(self, channel: AgiChannel) -> None:
        env = channel.env
        script = env.network_script or env.get("agi_request").rsplit("/", 1)[-1]
        flow = self.registry.get(script)
        self.stats.sessions += 1
        try:
            linkedid = await channel.get_variable("CHANNEL(linkedid)") or env.uniqueid
        except AgiHangup:
            self.stats.outcomes["hung_up"] += 1
            return
        except AgiError as exc:
            log.warning("读取 linkedid 失败 / cannot read linkedid: %s", exc)
            linkedid = env.uniqueid
        # the record is written while the first prompt plays: its id is wanted only at the
        # hand-off (and for a call back), and the commit took the caller's first think time
        # past 20 ms whenever the database was busy
        opening = asyncio.ensure_future(
            self._open_record(
                env, script, linkedid, flow.name if flow else None, flow.version if flow else None
            )
        )
        if flow is None:
            session_id = await record_id(opening, self.backend.wait_s, f"script={script!r}")
            log.error(
                "未知的 AGI 脚本 '%s', 转人工 / unknown AGI script path '%s' (uniqueid %s): caller sent to a person",
                script,
                script,
                env.uniqueid,
            )
            outcome = await self._fallback(channel, session_id=session_id)
            self.stats.outcomes[outcome] += 1
            await channel.close()  # Asterisk moves the caller on; the bookkeeping follows
            await self._close_record(
                session_id if session_id is not None else await opening,
                SessionResult(
                    outcome=outcome,
                    path=[],
                    error=f"unknown script {script!r}",
                    commands=channel.commands_sent,
                    queue=self.runtime.settings.ivr_fallback_queue,
                ),
            )
            return
        ctx = CallContext(
            env=env,
            channel=channel,
            flow=flow,
            backend=self.backend,
            prompts=self.prompts,
            opening=opening,
            linkedid=linkedid,
            language=flow.default_language,
        )
        try:
            await run_flow(ctx)
        except AgiHangup as exc:
            ctx.outcome = "lost" if exc.reason == "lost" else "hung_up"
            log.info(
                "来电者在 IVR 中挂机 / caller left the IVR at step %s: %s",
                ctx.path[-1] if ctx.path else "-",
                ctx.describe(),
            )
        except AgiError as exc:
            ctx.error = str(exc)
            log.warning(
                "AGI 对话出错, 转人工 / AGI conversation failed, sending to a person: %s %s",
                exc,
                ctx.describe(),
            )
            ctx.outcome = await self._fallback(channel, ctx=ctx)
        except Exception as exc:
            ctx.error = f"{type(exc).__name__}: {exc}"
            log.exception(
                "流程执行出错, 转人工 / flow fault, sending to a person: %s", ctx.describe()
            )
            ctx.outcome = await self._fallback(channel, ctx=ctx)
        self.stats.outcomes[ctx.outcome] += 1
        # the AGI script ends here and Asterisk moves the caller on (to the queue); what is
        # left is bookkeeping, which must not keep a caller in silence while the database is slow
        await channel.close()
        await _settle_writes(ctx)
        await self._close_record(
            await ctx.opened(),
            SessionResult(
                outcome=ctx.outcome,
                path=ctx.path,
                elder_id=ctx.caller.elder_id,
                caller_kind=ctx.caller.kind,
                language=ctx.language,
                language_chosen=bool(ctx.facts.get("language_chosen")),
                intent=ctx.intent,
                priority=ctx.priority,
                queue=ctx.queue,
                draft_order_id=ctx.draft_order_id,
                region_code=ctx.caller.region_code,
                prompt_failures=tuple(ctx.prompt_failures),
                error=ctx.error,
                commands=channel.commands_sent,
            ),
        )

    async def _fallback(
        self, channel: AgiChannel, *, ctx: CallContext | None = None, session_id: int | None = None
    ) -> str:
        """Hand the call to a person in the fallback queue; the outcome to record."""
        if channel.hung_up:
            return "hung_up"
        settings = self.runtime.settings
        try:
            if ctx is not None:
                ctx.queue = ctx.queue or settings.ivr_fallback_queue
                ctx.intent = ctx.intent or "person"
                ctx.priority = ctx.priority if ctx.priority is not None else 0
                await set_handoff_variables(ctx)
            else:
                await channel.set_variable("HOTLINE_QUEUE", settings.ivr_fallback_queue)
                await channel.set_variable("HOTLINE_INTENT", "person")
                await channel.set_variable("HOTLINE_PRIORITY", 0)
                if session_id:
                    await channel.set_variable("HOTLINE_IVR_SESSION", session_id)
        except AgiHangup:
            return "hung_up"
        except (AgiError, OSError) as exc:
            log.warning("无法设置转人工变量 / could not set the fallback variables: %s", exc)
        return "failed"

    async def _open_record(
        self,
        env: AgiEnvironment,
        script: str,
        linkedid: str,
        flow_name: str | None,
        flow_version: str | None,
    ) -> int | None:
        try:
            return await self.records.open(
                uniqueid=env.uniqueid or f"unknown-{time.time_ns()}",
                linkedid=linkedid,
                channel=env.channel,
                script=script or "-",
                caller_number=env.callerid,
                caller_name=env.calleridname,
                dnid=env.dnid,
                flow_name=flow_name,
                flow_version=flow_version,
            )
        except Exception:
            log.exception(
                "无法记录 IVR 会话, 流程照常进行 / cannot record the IVR session; the call goes on"
            )
            return None

    async def _close_record(self, session_id: int | None, result: SessionResult) -> None:
        if session_id is None:
            return
        try:
            await self.records.close(session_id, result)
        except Exception:
            log.exception("无法关闭 IVR 会话记录 / cannot close IVR session %s", session_id)


async def _settle_writes(ctx: CallContext) -> None:
    """Wait for the writes the call began without waiting (a remembered language); a failed
    one is logged, the call's record closes all the same."""
    for result in await asyncio.gather(*ctx.writes, return_exceptions=True):
        if isinstance(result, BaseException):
            log.error(
                "IVR 通话中的写入失败 / a write begun in the call failed: %s %s",
                type(result).__name__,
                ctx.describe(),
            )


def _flows_dir(configured: str) -> Path | None:
    return Path(configured) if configured else None
