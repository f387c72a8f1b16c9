"""Carrying out telephony commands on callcenter's one AMI connection.

Requests arrive from Redis (a blocking-pop thread) or in-process; each runs on the event loop,
once per idempotency key (a repeated key gets the first result back, across processes through
a Redis ``SET NX``), and its result goes back on the request's reply key. Asterisk's refusals
come back as TelephonyRejected with Asterisk's own words; a connection lost mid-command as
TelephonyOutcomeUnknown (the adapter never re-sends, so nothing runs twice).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from callcenter.ami import AmiActionTimeout, AmiConnectionLost, AmiError, AmiNotConnected
from platform_core import clock
from platform_core.calls import recalls
from platform_core.telephony import commands as tc

if TYPE_CHECKING:
    from callcenter.app import CallCenter

log = logging.getLogger(__name__)

_ORIGINATE_FAILURES = {0: "failed", 1: "hangup", 3: "agent_no_answer", 5: "busy", 8: "congestion"}


class CommandExecutor:
    def __init__(self, center: CallCenter) -> None:
        self.center = center
        self.runtime = center.runtime
        self.namespace = self.runtime.settings.redis_namespace
        self._done: OrderedDict[str, dict[str, Any] | asyncio.Future[dict[str, Any]]] = (
            OrderedDict()
        )
        self._unregister: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.counts = {"executed": 0, "repeated": 0, "rejected": 0, "unavailable": 0, "unknown": 0}

    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    # -- transport ----------------------------------------------------------------------------

    def start(self) -> None:
        if self.runtime.settings.redis_url:
            self._thread = threading.Thread(
                target=self._redis_loop, name="telephony-commands", daemon=True
            )
            self._thread.start()
        else:
            self._unregister = tc.serve_in_process(self.namespace, self.submit)

    async def stop(self) -> None:
        self._stopping.set()
        if self._unregister is not None:
            self._unregister()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 3)

    def submit(self, request: dict[str, Any]) -> concurrent.futures.Future[dict[str, Any]]:
        """Thread-safe entry: run the request on the loop, return a future of its wire result."""
        loop = self.center.loop
        if loop is None or not loop.is_running():
            fut: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
            fut.set_result(
                tc.result_to_wire(
                    tc.TelephonyUnavailable("话务服务未连接 / callcenter not connected")
                )
            )
            return fut
        return asyncio.run_coroutine_threadsafe(self.handle(request), loop)

    def _redis_loop(self) -> None:
        import redis as redis_lib

        client = self.runtime.redis()
        queue_key = tc.request_list(self.namespace)
        while not self._stopping.is_set():
            try:
                got = client.brpop([queue_key], timeout=1)
            except redis_lib.RedisError as exc:
                log.warning("话务指令队列读取失败 / command queue read failed: %s", exc)
                time.sleep(1)
                continue
            if got is None:
                continue
            try:
                request = json.loads(got[1])
            except ValueError:
                log.error("无法解析的话务指令 / undecodable command request")
                continue
            if float(request.get("deadline") or 0) and time.time() > float(request["deadline"]):
                log.warning(
                    "话务指令已过期, 不执行 / command expired before it was read: %s",
                    request.get("key"),
                )
                continue
            try:
                result = self.submit(request).result(timeout=120)
            except Exception as exc:  # noqa: BLE001
                result = tc.result_to_wire(
                    tc.TelephonyError(f"话务指令失败 / command failed: {exc}")
                )
            try:
                pipe = client.pipeline()
                pipe.lpush(request["reply_to"], json.dumps(result, ensure_ascii=False))
                pipe.expire(request["reply_to"], 60)
                pipe.execute()
            except redis_lib.RedisError as exc:
                log.error("话务指令结果写回失败 / could not post the result: %s", exc)

    # -- execution ----------------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        key = str(request.get("key") or uuid.uuid4().hex)
        previous = self._done.get(key)
        if previous is not None:
            self.counts["repeated"] += 1
            first = await previous if isinstance(previous, asyncio.Future) else previous
            return {**first, "repeated": True} if "error" not in first else first
        shared = await self._claim(key)
        if shared is not None:
            self.counts["repeated"] += 1
            return {**shared, "repeated": True} if "error" not in shared else shared
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._done[key] = fut
        while len(self._done) > 10000:
            self._done.popitem(last=False)
        try:
            command = tc.from_wire(dict(request.get("command") or {}))
            result: dict[str, Any] = tc.result_to_wire(
                await self.execute(command, actor=str(request.get("actor", "")))
            )
        except tc.TelephonyError as exc:
            result = tc.result_to_wire(exc)
            self.counts[
                "rejected"
                if isinstance(exc, tc.TelephonyRejected)
                else "unknown"
                if isinstance(exc, tc.TelephonyOutcomeUnknown)
                else "unavailable"
            ] += 1
        self._done[key] = result
        fut.set_result(result)
        await self._remember(key, result)
        return result

    async def _claim(self, key: str) -> dict[str, Any] | None:
        """Across processes: the first to SET NX the key runs it; others get its result."""
        if not self.runtime.settings.redis_url:
            return None
        loop = asyncio.get_running_loop()
        client = self.runtime.redis()
        name = tc.done_key(self.namespace, key)
        claimed = await loop.run_in_executor(None, lambda: client.set(name, "", nx=True, ex=86400))
        if claimed:
            return None
        for _ in range(100):
            raw = await loop.run_in_executor(None, client.get, name)
            if raw:
                return json.loads(raw)  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)
        return tc.result_to_wire(
            tc.TelephonyOutcomeUnknown("同一指令正在执行 / this command is already running")
        )

    async def _remember(self, key: str, result: dict[str, Any]) -> None:
        if not self.runtime.settings.redis_url:
            return
        client = self.runtime.redis()
        data = json.dumps(result, ensure_ascii=False)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: client.set(tc.done_key(self.namespace, key), data, ex=86400)
        )

    async def _action(self, fields: dict[str, Any], timeout: float | None = None) -> Any:
        try:
            resp = await self.center.ami.send_action(fields, timeout=timeout)
        except AmiNotConnected as exc:
            raise tc.TelephonyUnavailable("未连接到交换机 / not connected to Asterisk") from exc
        except (AmiConnectionLost, AmiActionTimeout) as exc:
            raise tc.TelephonyOutcomeUnknown(
                f"交换机连接中断, 指令结果未知, 请勿重复 / outcome unknown, do not repeat: {exc}"
            ) from exc
        except AmiError as exc:
            raise tc.TelephonyError(str(exc)) from exc
        return resp

    @staticmethod
    def _ok(resp: Any) -> bool:
        return str(resp.get("Response", "")) == "Success"

    async def execute(self, command: tc.Command, *, actor: str = "") -> tc.CommandResult:
        self.counts["executed"] += 1
        if isinstance(command, tc.QueueLogin):
            return await self._each_queue(
                command.queues,
                lambda q: {
                    "Action": "QueueAdd",
                    "Queue": q,
                    "Interface": command.interface,
                    "StateInterface": command.interface,
                    "MemberName": command.member_name or command.interface,
                    "Penalty": command.penalty,
                    "Paused": "true" if command.paused else "false",
                    **({"Reason": command.reason} if command.reason else {}),
                },
                tolerated="Already there",
                done="已签入队列 / logged in",
            )
        if isinstance(command, tc.QueueLogout):
            return await self._each_queue(
                command.queues,
                lambda q: {
                    "Action": "QueueRemove",
                    "Queue": q,
                    "Interface": command.interface,
                },
                tolerated="Not there",
                done="已签出队列 / logged out",
            )
        if isinstance(command, tc.Pause | tc.Unpause):
            paused = isinstance(command, tc.Pause)
            fields: dict[str, Any] = {
                "Action": "QueuePause",
                "Interface": command.interface,
                "Paused": "true" if paused else "false",
            }
            if command.queue:
                fields["Queue"] = command.queue
            if paused:
                fields["Reason"] = command.reason  # type: ignore[union-attr]
            return self._single(await self._action(fields), "示闲/示忙已提交 / pause change sent")
        if isinstance(command, tc.Originate):
            return await self._originate(command, actor)
        if isinstance(command, tc.Redirect):
            resp = await self._action(
                {
                    "Action": "Redirect",
                    "Channel": command.channel,
                    "Context": command.context,
                    "Exten": command.exten,
                    "Priority": command.priority,
                }
            )
            return self._single(resp, "已转接 / redirected")
        if isinstance(command, tc.Hangup):
            return self._single(
                await self._action({"Action": "Hangup", "Channel": command.channel}),
                "已挂断 / hung up",
            )
        if isinstance(command, tc.Spy):
            options = tc.Spy.MODES.get(command.mode)
            if options is None:
                raise tc.TelephonyRejected(f"未知的监听方式: {command.mode} / unknown spy mode")
            return await self._originate(
                tc.Originate(
                    channel=command.supervisor_interface,
                    exten="",
                    context="",
                    application="ChanSpy",
                    data=f"{command.agent_interface},{options}",
                    caller_id=f"监听 <{command.agent_interface}>",
                ),
                actor,
            )
        raise tc.TelephonyRejected(f"未知的话务指令 / unknown command {command!r}")

    def _single(self, resp: Any, done: str) -> tc.CommandResult:
        if not self._ok(resp):
            raise tc.TelephonyRejected(
                f"交换机拒绝: {resp.get('Message')} / Asterisk refused",
                asterisk=str(resp.get("Message", "")),
            )
        return tc.CommandResult(
            ok=True, message=done, data={"asterisk": str(resp.get("Message", ""))}
        )

    async def _each_queue(
        self, queues: tuple[str, ...], build: Any, *, tolerated: str, done: str
    ) -> tc.CommandResult:
        if not queues:
            raise tc.TelephonyRejected("未指定队列 / no queue given")
        refused: dict[str, str] = {}
        for q in queues:
            resp = await self._action(build(q))
            message = str(resp.get("Message", ""))
            if not self._ok(resp) and tolerated not in message:
                refused[q] = message
        if refused and len(refused) == len(queues):
            raise tc.TelephonyRejected(f"交换机拒绝: {refused} / Asterisk refused", refused=refused)
        return tc.CommandResult(ok=not refused, message=done, data={"refused": refused})

    async def _originate(self, command: tc.Originate, actor: str) -> tc.CommandResult:
        action_id = f"hotline-originate-{uuid.uuid4().hex}"
        fields: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": command.channel,
            "Timeout": int(command.timeout_s * 1000),
            "Async": "true",
        }
        if command.application:
            fields.update({"Application": command.application, "Data": command.data})
        else:
            fields.update({"Context": command.context, "Exten": command.exten, "Priority": 1})
        if command.caller_id:
            fields["CallerID"] = command.caller_id
        if command.variables:
            fields["Variable"] = [f"{k}={v}" for k, v in command.variables.items()]
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Any] = loop.create_future()

        def on_event(message: Any) -> None:
            if message.get("Event") == "OriginateResponse" and not outcome.done():
                outcome.set_result(message)

        stop_listening = self.center.ami.listen_action(action_id, on_event)
        try:
            resp = await self._action(fields)
            if not self._ok(resp):
                raise tc.TelephonyRejected(
                    f"交换机拒绝外呼: {resp.get('Message')} / Asterisk refused the originate",
                    asterisk=str(resp.get("Message", "")),
                )
            if command.recall_id is not None:
                asyncio.ensure_future(
                    self._watch_recall(outcome, command, action_id, actor, stop_listening)
                )
            if not command.wait:
                return tc.CommandResult(
                    ok=True, message="外呼已发起 / originate queued", data={"action_id": action_id}
                )
            try:
                event = await asyncio.wait_for(asyncio.shield(outcome), command.timeout_s + 10)
            except TimeoutError:
                raise tc.TelephonyOutcomeUnknown(
                    "未收到外呼结果 / no OriginateResponse in time"
                ) from None
            answered = str(event.get("Response")) == "Success"
            reason = (
                int(str(event.get("Reason") or 0))
                if str(event.get("Reason") or "0").isdigit()
                else 0
            )
            return tc.CommandResult(
                ok=answered,
                message="已接通 / answered"
                if answered
                else f"未接通 / not answered ({_ORIGINATE_FAILURES.get(reason, reason)})",
                data={
                    "action_id": action_id,
                    "reason": reason,
                    "uniqueid": str(event.get("Uniqueid", "")),
                    "channel": str(event.get("Channel", "")),
                },
            )
        finally:
            if command.recall_id is None:
                stop_listening()

    async def _watch_recall(
        self,
        outcome: asyncio.Future[Any],
        command: tc.Originate,
        action_id: str,
        actor: str,
        stop_listening: Any,
    ) -> None:
        """A call back whose agent leg failed is a recall attempt too (DialEnd covers the rest)."""
        try:
            event = await asyncio.wait_for(asyncio.shield(outcome), command.timeout_s + 30)
        except TimeoutError:
            return
        finally:
            stop_listening()
        if str(event.get("Response")) == "Success":
            return
        reason = (
            int(str(event.get("Reason") or 0)) if str(event.get("Reason") or "0").isdigit() else 0
        )
        result = _ORIGINATE_FAILURES.get(reason, "failed")
        recall_id = command.recall_id
        assert recall_id is not None

        def record(session: Any) -> None:
            recalls.record_recall_attempt(
                session,
                recall_id=recall_id,
                attempt_key=action_id,
                result=result,
                at=clock.now(),
                agent_interface=command.channel,
                actor_name=actor or None,
            )

        self.center.pipeline.submit_marker(record)
