"""Telephony commands: the console and RQ jobs ask, callcenter's one AMI connection acts.

A command is a plain dataclass; :class:`TelephonyClient` sends it and waits for callcenter's
answer. With a Redis URL the request goes on a Redis list and the answer comes back on a
per-request key (both namespaced, both with timeouts); without one, callcenter runs in the same
process and serves the request directly. Every command carries an idempotency key: callcenter
runs a key once and answers a repeat with the first result, so a retried job cannot ring an
elder twice. The client never retries on its own. State (paused, logged in) changes only when
Asterisk's events confirm it, never because a command was sent.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from platform_core.actors import Actor, system_actor
from platform_core.audit.service import record_separately
from platform_core.errors import DomainError
from platform_core.runtime import Runtime

# -- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    kind: ClassVar[str] = ""


@dataclass(frozen=True)
class QueueLogin(Command):
    """QueueAdd into each queue (a dynamic member)."""

    kind: ClassVar[str] = "queue_login"
    interface: str
    queues: tuple[str, ...]
    member_name: str = ""
    penalty: int = 0
    paused: bool = False
    reason: str = ""


@dataclass(frozen=True)
class QueueLogout(Command):
    kind: ClassVar[str] = "queue_logout"
    interface: str
    queues: tuple[str, ...]


@dataclass(frozen=True)
class Pause(Command):
    kind: ClassVar[str] = "pause"
    interface: str
    reason: str
    queue: str | None = None


@dataclass(frozen=True)
class Unpause(Command):
    kind: ClassVar[str] = "unpause"
    interface: str
    queue: str | None = None


@dataclass(frozen=True)
class Originate(Command):
    """Ring ``channel`` (an agent's interface) and, once answered, run ``context``/``exten``
    (a call back dials ``exten`` through the trunk). ``wait`` waits for OriginateResponse."""

    kind: ClassVar[str] = "originate"
    channel: str
    exten: str
    context: str = "hotline-callback"
    caller_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    timeout_s: int = 30
    wait: bool = False
    recall_id: int | None = None
    application: str = ""
    data: str = ""


@dataclass(frozen=True)
class Redirect(Command):
    """Move a channel elsewhere in the dialplan (a blind transfer to a queue or a desk)."""

    kind: ClassVar[str] = "redirect"
    channel: str
    context: str
    exten: str
    priority: int = 1


@dataclass(frozen=True)
class Hangup(Command):
    kind: ClassVar[str] = "hangup"
    channel: str


@dataclass(frozen=True)
class Spy(Command):
    """Ring the supervisor's phone into ChanSpy on an agent: listen (q), whisper (w), barge (B)."""

    kind: ClassVar[str] = "spy"
    supervisor_interface: str
    agent_interface: str
    mode: str = "listen"

    MODES: ClassVar[dict[str, str]] = {"listen": "q", "whisper": "qw", "barge": "qB"}


COMMANDS: dict[str, type[Command]] = {
    c.kind: c for c in (QueueLogin, QueueLogout, Pause, Unpause, Originate, Redirect, Hangup, Spy)
}


def to_wire(command: Command) -> dict[str, Any]:
    return {"kind": command.kind, "args": asdict(command)}


def from_wire(data: dict[str, Any]) -> Command:
    cls = COMMANDS.get(str(data.get("kind")))
    if cls is None:
        raise TelephonyRejected(f"未知的话务指令: {data.get('kind')} / unknown telephony command")
    allowed = {f.name for f in fields(cls)}
    args = {k: v for k, v in dict(data.get("args") or {}).items() if k in allowed}
    for name in ("queues",):
        if name in args and isinstance(args[name], list):
            args[name] = tuple(args[name])
    try:
        return cls(**args)
    except TypeError as exc:
        raise TelephonyRejected(f"话务指令参数错误 / bad command arguments: {exc}") from exc


# -- results and errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    repeated: bool = False  # this key had run before; this is its first result


class TelephonyError(DomainError):
    code = "telephony_error"
    http_status = 502


class TelephonyUnavailable(TelephonyError):
    code = "telephony_unavailable"
    http_status = 503


class TelephonyRejected(TelephonyError):
    code = "telephony_rejected"
    http_status = 409


class TelephonyOutcomeUnknown(TelephonyError):
    """The connection to Asterisk dropped mid-command: it may or may not have run."""

    code = "telephony_outcome_unknown"
    http_status = 504


ERRORS: dict[str, type[TelephonyError]] = {
    e.code: e
    for e in (TelephonyError, TelephonyUnavailable, TelephonyRejected, TelephonyOutcomeUnknown)
}


def result_to_wire(result: CommandResult | TelephonyError) -> dict[str, Any]:
    if isinstance(result, TelephonyError):
        return {"error": result.code, "message": result.message, "details": result.details}
    return {
        "ok": result.ok,
        "message": result.message,
        "data": result.data,
        "repeated": result.repeated,
    }


def result_from_wire(data: dict[str, Any]) -> CommandResult:
    if "error" in data:
        cls = ERRORS.get(str(data["error"]), TelephonyError)
        raise cls(str(data.get("message", "")), **dict(data.get("details") or {}))
    return CommandResult(
        ok=bool(data.get("ok")),
        message=str(data.get("message", "")),
        data=dict(data.get("data") or {}),
        repeated=bool(data.get("repeated")),
    )


# -- transports ---------------------------------------------------------------------------------

Request = dict[str, Any]
LocalServer = Callable[[Request], "Future[dict[str, Any]]"]
_local: dict[str, LocalServer] = {}
_local_lock = threading.Lock()


def serve_in_process(namespace: str, server: LocalServer) -> Callable[[], None]:
    """callcenter registers here when no Redis is configured; returns the unregister call."""
    with _local_lock:
        _local[namespace] = server

    def unregister() -> None:
        with _local_lock:
            if _local.get(namespace) is server:
                del _local[namespace]

    return unregister


def request_list(namespace: str) -> str:
    return f"{namespace}:telephony:requests"


def reply_key(namespace: str, request_id: str) -> str:
    return f"{namespace}:telephony:reply:{request_id}"


def done_key(namespace: str, idempotency_key: str) -> str:
    return f"{namespace}:telephony:done:{idempotency_key}"


class TelephonyClient:
    """Send telephony commands to callcenter and wait for its answer.

    Every method returns a :class:`CommandResult` or raises TelephonyUnavailable (callcenter is
    not running or did not answer in time), TelephonyRejected (Asterisk refused, with its
    reason) or TelephonyOutcomeUnknown (the AMI connection dropped mid-command: do not simply
    retry an originate with a new key). Each command is audited with its actor.
    """

    def __init__(self, runtime: Runtime, *, timeout: float | None = None) -> None:
        self.runtime = runtime
        self.namespace = runtime.settings.redis_namespace
        self.timeout = (
            timeout if timeout is not None else runtime.settings.telephony_command_timeout_s
        )

    def execute(
        self,
        command: Command,
        *,
        idempotency_key: str | None = None,
        actor: Actor | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        request: Request = {
            "id": uuid.uuid4().hex,
            "key": idempotency_key or uuid.uuid4().hex,
            "command": to_wire(command),
            "actor": (actor or system_actor(kind="telephony")).name,
        }
        wait = timeout if timeout is not None else self.timeout
        try:
            raw = (
                self._send_redis(request, wait)
                if self.runtime.settings.redis_url
                else self._send_local(request, wait)
            )
            result = result_from_wire(raw)
        except TelephonyError as exc:
            self._audit(command, request, actor, "failed", exc.code)
            raise
        self._audit(command, request, actor, "ok" if result.ok else "failed", result.message)
        return result

    def _send_local(self, request: Request, wait: float) -> dict[str, Any]:
        with _local_lock:
            server = _local.get(self.namespace)
        if server is None:
            raise TelephonyUnavailable("话务服务未运行 / callcenter is not running")
        try:
            return server(request).result(wait)
        except FutureTimeout:
            raise TelephonyUnavailable(
                "话务服务未在时限内应答 / callcenter did not answer in time"
            ) from None

    def _send_redis(self, request: Request, wait: float) -> dict[str, Any]:
        redis = self.runtime.redis()
        request["reply_to"] = reply_key(self.namespace, request["id"])
        request["deadline"] = __import__("time").time() + wait
        try:
            redis.lpush(request_list(self.namespace), json.dumps(request, ensure_ascii=False))
            got = redis.brpop([request["reply_to"]], timeout=max(1, int(wait + 0.999)))
        except Exception as exc:  # noqa: BLE001 - any Redis failure means no answer
            raise TelephonyUnavailable(
                f"无法联系话务服务 / cannot reach callcenter: {exc}"
            ) from exc
        if got is None:
            raise TelephonyUnavailable("话务服务未在时限内应答 / callcenter did not answer in time")
        return json.loads(got[1])  # type: ignore[no-any-return]

    def _audit(
        self, command: Command, request: Request, actor: Actor | None, result: str, note: str
    ) -> None:
        who = actor or system_actor(kind="telephony")
        try:
            record_separately(
                self.runtime.session_factory,
                actor=who,
                action=f"telephony.{command.kind}",
                target_type="telephony",
                target_id=_target_of(command),
                result=result,
                detail={"key": request["key"], "note": note[:200]},
            )
        except Exception:  # noqa: BLE001 - an audit failure is logged by the caller's logging
            __import__("logging").getLogger(__name__).exception(
                "话务指令审计失败 / audit of command failed"
            )

    # -- convenience --------------------------------------------------------------------------

    def login(
        self,
        *,
        interface: str,
        queues: list[str] | tuple[str, ...],
        member_name: str = "",
        penalty: int = 0,
        paused: bool = False,
        reason: str = "",
        actor: Actor | None = None,
    ) -> CommandResult:
        return self.execute(
            QueueLogin(
                interface=interface,
                queues=tuple(queues),
                member_name=member_name,
                penalty=penalty,
                paused=paused,
                reason=reason,
            ),
            actor=actor,
        )

    def logout(
        self, *, interface: str, queues: list[str] | tuple[str, ...], actor: Actor | None = None
    ) -> CommandResult:
        return self.execute(QueueLogout(interface=interface, queues=tuple(queues)), actor=actor)

    def pause(
        self, *, interface: str, reason: str, queue: str | None = None, actor: Actor | None = None
    ) -> CommandResult:
        return self.execute(Pause(interface=interface, reason=reason, queue=queue), actor=actor)

    def unpause(
        self, *, interface: str, queue: str | None = None, actor: Actor | None = None
    ) -> CommandResult:
        return self.execute(Unpause(interface=interface, queue=queue), actor=actor)

    def originate(
        self,
        *,
        channel: str,
        exten: str,
        context: str = "hotline-callback",
        caller_id: str = "",
        variables: dict[str, str] | None = None,
        timeout_s: int = 30,
        wait: bool = False,
        idempotency_key: str | None = None,
        actor: Actor | None = None,
        application: str = "",
        data: str = "",
    ) -> CommandResult:
        cmd = Originate(
            channel=channel,
            exten=exten,
            context=context,
            caller_id=caller_id,
            variables=dict(variables or {}),
            timeout_s=timeout_s,
            wait=wait,
            application=application,
            data=data,
        )
        return self.execute(
            cmd,
            idempotency_key=idempotency_key,
            actor=actor,
            timeout=max(self.timeout, timeout_s + 10) if wait else None,
        )

    def call_back(
        self,
        *,
        agent_interface: str,
        number: str,
        recall_id: int | None = None,
        elder_id: int | None = None,
        caller_id: str = "12349",
        wait: bool = False,
        timeout_s: int = 30,
        idempotency_key: str | None = None,
        actor: Actor | None = None,
    ) -> CommandResult:
        """Ring the agent's phone, then dial the elder (a recall's attempt is recorded)."""
        variables = {}
        if recall_id is not None:
            variables["HOTLINE_RECALL_ID"] = str(recall_id)
        if elder_id is not None:
            variables["HOTLINE_ELDER_ID"] = str(elder_id)
        cmd = Originate(
            channel=agent_interface,
            exten=number,
            context="hotline-callback",
            caller_id=caller_id,
            variables=variables,
            timeout_s=timeout_s,
            wait=wait,
            recall_id=recall_id,
        )
        return self.execute(
            cmd,
            idempotency_key=idempotency_key,
            actor=actor,
            timeout=max(self.timeout, timeout_s + 10) if wait else None,
        )

    def redirect(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        actor: Actor | None = None,
    ) -> CommandResult:
        return self.execute(
            Redirect(channel=channel, context=context, exten=exten, priority=priority), actor=actor
        )

    def transfer(
        self,
        *,
        channel: str,
        queue: str | None = None,
        extension: str | None = None,
        actor: Actor | None = None,
    ) -> CommandResult:
        """Blind transfer of the caller's channel to a queue or to a desk's extension.

        In the hotline-transfer context (asterisk_conf/extensions.conf) a queue is reached by its
        name without the ``hotline-`` prefix: Asterisk ignores dashes in extension names.
        """
        target = queue.removeprefix("hotline-") if queue else extension
        if not target:
            raise TelephonyRejected("转接需要队列或分机 / a transfer needs a queue or an extension")
        return self.redirect(channel=channel, context="hotline-transfer", exten=target, actor=actor)

    def hangup(self, *, channel: str, actor: Actor | None = None) -> CommandResult:
        return self.execute(Hangup(channel=channel), actor=actor)

    def listen(
        self, *, supervisor_interface: str, agent_interface: str, actor: Actor | None = None
    ) -> CommandResult:
        return self.execute(Spy(supervisor_interface, agent_interface, "listen"), actor=actor)

    def whisper(
        self, *, supervisor_interface: str, agent_interface: str, actor: Actor | None = None
    ) -> CommandResult:
        return self.execute(Spy(supervisor_interface, agent_interface, "whisper"), actor=actor)

    def barge(
        self, *, supervisor_interface: str, agent_interface: str, actor: Actor | None = None
    ) -> CommandResult:
        return self.execute(Spy(supervisor_interface, agent_interface, "barge"), actor=actor)


def _target_of(command: Command) -> str:
    for name in ("interface", "channel", "agent_interface"):
        value = getattr(command, name, None)
        if value:
            return str(value)[:64]
    return ""
