"""Socket.IO: authenticated connections, guarded events, and the relay of domain events.

A connection is accepted only with a live login session cookie (the same one HTTP uses) and a
role allowed on the namespace. Each connection joins its user's room, its login's room and the
rooms of every region scope it may see. On connect the client receives a snapshot, then the
stream; after a gap in the event bus (Redis reconnect) it is told to re-fetch the snapshot.

Every process relays the domain events it receives to its own clients only (``ignore_queue``):
with several console processes each one already receives every event from the bus, so going
through the Socket.IO message queue as well would deliver each event several times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request
from flask_socketio import SocketIO
from pydantic import BaseModel, ValidationError

from agent_console import i18n
from agent_console.json_limits import RejectedPayload
from agent_console.operations import timed_socket_event
from platform_core import clock
from platform_core.accounts import service as accounts
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import DomainError, OutOfRegion, PermissionDenied, ValidationFailed
from platform_core.regions import codes
from platform_core.runtime import Runtime

log = logging.getLogger(__name__)

SESSION_COOKIE = "hotline_session"
AGENT_NS = "/agent"
SUPERVISOR_NS = "/supervisor"
CARE_NS = "/care"  # the care office: monthly runs, care-call campaigns
LIVE_RECHECK_S = 5.0
# How often each console process looks for idle logins among its connections.
IDLE_SWEEP_S = 10.0
NAMESPACE_PERMISSION = {
    AGENT_NS: Permission.TAKE_CALLS,
    SUPERVISOR_NS: Permission.VIEW_WALLBOARD,
    CARE_NS: Permission.CARE_CAMPAIGNS,
}


@dataclass(frozen=True)
class Connection:
    session_id: str
    actor: Actor
    user: dict[str, Any]


@dataclass(frozen=True)
class SocketHandler:
    namespace: str
    event: str
    permission: Permission
    schema: type[BaseModel] | None


def scope_rooms(region_code: str) -> list[str]:
    """Rooms of every scope that contains ``region_code`` (the region itself and its ancestors)."""
    rooms = []
    current: str | None = region_code
    while current:
        rooms.append(f"scope:{current}")
        current = codes.parent_of(current)
    return rooms


class Realtime:
    def __init__(self, socketio: SocketIO, runtime: Runtime) -> None:
        self.socketio = socketio
        self.runtime = runtime
        self.handlers: list[SocketHandler] = []
        self._connections: dict[tuple[str, str], Connection] = {}
        self._lock = threading.Lock()
        self._snapshots: dict[str, Callable[[Connection], dict[str, Any]]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._live_checked: dict[str, tuple[float, datetime]] = {}
        self._stopping = threading.Event()
        self.idle_sweep_s = IDLE_SWEEP_S
        self._sweeper: threading.Thread | None = None
        self._http_logins: dict[str, tuple[float, dict[str, Any], Actor]] = {}
        # the one room each connection follows besides its own (the elder on the screen pop)
        self._following: dict[tuple[str, str], str] = {}
        self.event_handlers: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        # started and stopped with the relay (the alarm router reacts to the relayed events)
        self._companions: list[tuple[Callable[[], Any], Callable[[], Any]]] = []
        self.add_companion(self._start_sweep, self._stop_sweep)
        # namespace -> the permission a connection needs, and the rooms it joins beyond its own
        self._permissions: dict[str, Permission] = {}
        self._rooms: dict[str, Callable[[Connection], list[str]]] = {}
        for ns, permission in NAMESPACE_PERMISSION.items():
            self.add_namespace(ns, permission)
        self._register_default_namespace()

    def add_namespace(
        self,
        namespace: str,
        permission: Permission,
        *,
        rooms: Callable[[Connection], list[str]] | None = None,
    ) -> None:
        """Serve ``namespace`` to logins whose role holds ``permission``; ``rooms`` names the
        rooms a connection joins besides its user's, login's and region's (a site's desk joins
        the rooms of the sites its account works at)."""
        self._permissions[namespace] = permission
        if rooms is not None:
            self._rooms[namespace] = rooms
        self._register_connect(namespace)

    # --- connections ---------------------------------------------------------------------

    def _audit_denied(self, actor: Actor | None, action: str, detail: dict[str, Any]) -> None:
        audit.record_separately(
            self.runtime.session_factory,
            actor=actor or Actor(kind="anonymous", name="anonymous", region_code="000000000000"),
            action=action,
            target_type="socket",
            target_id=detail.get("namespace"),
            result="denied",
            detail=detail,
            source_ip=request.remote_addr if request else None,
        )

    def _register_connect(self, namespace: str) -> None:
        permission = self._permissions[namespace]

        def on_connect(auth: Any = None) -> bool:
            token = request.cookies.get(SESSION_COOKIE, "")
            try:
                with self.runtime.session() as s:
                    login = accounts.resume_session(s, token=token, source_ip=request.remote_addr)
                    user = accounts.user_summary(login.user)
                    actor = accounts.actor_for(login.user)
                    session_id = login.id
            except DomainError as err:
                self._audit_denied(
                    None, "socket.connect", {"namespace": namespace, "reason": err.code}
                )
                raise ConnectionRefusedError(i18n.error_dict(err)) from None
            if not allows(actor.role, permission):
                self._audit_denied(
                    actor, "socket.connect", {"namespace": namespace, "reason": "role"}
                )
                raise ConnectionRefusedError(
                    i18n.error_dict(
                        PermissionDenied("当前角色无权连接 / your role may not connect")
                    )
                )
            conn = Connection(session_id=session_id, actor=actor, user=user)
            sid = request.sid  # type: ignore[attr-defined]
            with self._lock:
                self._connections[(namespace, sid)] = conn
            rooms = [f"user:{user['id']}", f"login:{session_id}", f"scope:{actor.region_code}"]
            extra = self._rooms.get(namespace)
            for room in rooms + (extra(conn) if extra else []):
                self.socketio.server.enter_room(sid, room, namespace=namespace)
            self.send_snapshot(namespace, sid, conn)
            return True

        def on_disconnect(reason: Any = None) -> None:
            with self._lock:
                self._connections.pop((namespace, request.sid), None)  # type: ignore[attr-defined]
                self._following.pop((namespace, request.sid), None)  # type: ignore[attr-defined]

        self.socketio.on_event(
            "connect", timed_socket_event(namespace, "connect", on_connect), namespace=namespace
        )
        self.socketio.on_event("disconnect", on_disconnect, namespace=namespace)

    def _register_default_namespace(self) -> None:
        """The default namespace carries nothing, and still admits only a complete login."""

        def on_connect(auth: Any = None) -> bool:
            token = request.cookies.get(SESSION_COOKIE, "")
            try:
                with self.runtime.session() as s:
                    login = accounts.resume_session(s, token=token, source_ip=request.remote_addr)
                    if login.pending_step is not None:
                        raise accounts.NotAuthenticated("请先完成登录 / finish logging in first")
            except DomainError as err:
                self._audit_denied(None, "socket.connect", {"namespace": "/", "reason": err.code})
                raise ConnectionRefusedError(i18n.error_dict(err)) from None
            return True

        self.socketio.on_event("connect", on_connect, namespace="/")

    def _still_live(self, conn: Connection) -> bool:
        """Whether the login behind a connection is still open and not idle, re-read at most
        every few seconds; a client's event is the user acting, so it keeps the login alive.

        Logout, expiry and disabling an account close the connections at once (through
        LoginSessionEnded), and the idle sweep ends unattended ones; this re-check bounds how
        long a connection that escaped both could keep acting.
        """
        now = time.monotonic()
        cached = self._live_checked.get(conn.session_id)
        if cached is not None and now - cached[0] < LIVE_RECHECK_S and clock.now() < cached[1]:
            return True
        with self.runtime.session() as s:
            deadline = accounts.live_until(s, session_id=conn.session_id, touch=True)
        if deadline is not None:
            self._live_checked[conn.session_id] = (now, deadline)
        else:
            self._live_checked.pop(conn.session_id, None)
        return deadline is not None

    def sweep_idle(self) -> int:
        """End the logins of this process's connections that went idle (an unattended console
        stops receiving elders' data when its login expires, not at its next request)."""
        with self._lock:
            logins = sorted({c.session_id for c in self._connections.values()})
        if not logins:
            return 0
        with self.runtime.session() as s:
            over = accounts.end_idle_logins(s, session_ids=logins)
        return sum(self.close_login(sid) for sid in over)

    def _sweep_forever(self) -> None:
        while not self._stopping.wait(self.idle_sweep_s):
            try:
                self.sweep_idle()
            except Exception:  # the next sweep tries again; a database blip closes nothing
                log.warning("空闲登录检查失败 / idle sweep failed", exc_info=True)

    def _start_sweep(self) -> None:
        self._stopping.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_forever, name="hotline-idle-sweep", daemon=True
        )
        self._sweeper.start()

    def _stop_sweep(self) -> None:
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.join(5)
            self._sweeper = None

    def cached_login(self, session_id: str) -> tuple[dict[str, Any], Actor] | None:
        """A login this process verified less than LIVE_RECHECK_S ago (HTTP requests skip the
        database then); logout and expiry remove it at once through close_login."""
        entry = self._http_logins.get(session_id)
        if entry is None or time.monotonic() - entry[0] >= LIVE_RECHECK_S:
            return None
        return entry[1], entry[2]

    def forget_cached_logins(self) -> None:
        """Make the next request and event of every login re-read it from the database."""
        self._http_logins.clear()
        self._live_checked.clear()

    def remember_login(self, session_id: str, user: dict[str, Any], actor: Actor) -> None:
        if len(self._http_logins) > 10_000:
            self._http_logins.clear()
        self._http_logins[session_id] = (time.monotonic(), user, actor)

    def connection(self, namespace: str, sid: str) -> Connection | None:
        with self._lock:
            return self._connections.get((namespace, sid))

    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def follow(self, namespace: str, sid: str, room: str | None) -> None:
        """Put one connection in ``room`` instead of the room it followed before (the screen pop
        follows one elder at a time: that elder's order events reach it, the last one's stop)."""
        with self._lock:
            previous = self._following.pop((namespace, sid), None)
            if room is not None:
                self._following[(namespace, sid)] = room
        if previous is not None and previous != room:
            self.socketio.server.leave_room(sid, previous, namespace=namespace)
        if room is not None and room != previous:
            self.socketio.server.enter_room(sid, room, namespace=namespace)

    def connection_counts(self) -> dict[str, int]:
        """Open connections per namespace (the metrics' connected sockets)."""
        counts = dict.fromkeys(self._permissions, 0)
        with self._lock:
            for namespace, _sid in self._connections:
                counts[namespace] = counts.get(namespace, 0) + 1
        return counts

    def relaying(self) -> bool:
        return self._unsubscribe is not None

    def set_snapshot(self, namespace: str, build: Callable[[Connection], dict[str, Any]]) -> None:
        self._snapshots[namespace] = build

    def send_snapshot(self, namespace: str, sid: str, conn: Connection) -> None:
        build = self._snapshots.get(namespace)
        if build is None:
            return
        try:
            payload = build(conn)
        except DomainError as err:
            payload = {"error": i18n.error_dict(err)}
        except Exception:  # the connection stays up; the client shows the error and can re-fetch
            log.exception("快照失败 / snapshot for %s failed", namespace)
            payload = {
                "error": {
                    "code": "snapshot_failed",
                    "message": i18n.localize(
                        i18n.current_language(), "读取实时状态失败 / could not read the live state"
                    ),
                }
            }
        self.socketio.emit("snapshot", payload, to=sid, namespace=namespace)

    def close_login(self, session_id: str) -> int:
        """Disconnect this process's connections of one login session (after logout)."""
        self._live_checked.pop(session_id, None)
        self._http_logins.pop(session_id, None)
        with self._lock:
            victims = [key for key, c in self._connections.items() if c.session_id == session_id]
        for namespace, sid in victims:
            try:
                self.socketio.emit(
                    "session_ended", {"code": "logged_out"}, to=sid, namespace=namespace
                )
                self.socketio.server.disconnect(sid, namespace=namespace)
            except Exception:  # the client may already be gone
                log.debug("disconnect of %s failed", sid, exc_info=True)
            with self._lock:
                self._connections.pop((namespace, sid), None)
        return len(victims)

    # --- guarded events ------------------------------------------------------------------

    def on(
        self,
        namespace: str,
        event: str,
        permission: Permission,
        schema: type[BaseModel] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register an event handler ``fn(conn, payload) -> dict`` behind auth, role and shape checks.

        The client gets an acknowledgement ``{"ok": true, ...}`` or ``{"ok": false, "code",
        "message"}``; refusals and malformed payloads are audited.
        """

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            def handler(data: Any = None) -> dict[str, Any]:
                sid = request.sid  # type: ignore[attr-defined]
                conn = self.connection(namespace, sid)
                try:
                    if conn is None:
                        raise PermissionDenied("请先登录 / please log in", code="not_authenticated")
                    if not self._still_live(conn):
                        # refused here; the login's end (or the next sweep) closes the socket
                        raise PermissionDenied(
                            "登录已失效 / your session has ended", code="not_authenticated"
                        )
                    if not allows(conn.actor.role, permission):
                        raise PermissionDenied("当前角色无权执行此操作 / your role may not do this")
                    payload: Any = data
                    if isinstance(data, RejectedPayload):
                        raise ValidationFailed(data.error.message, code=data.error.code)
                    if schema is not None:
                        try:
                            payload = schema.model_validate(data if data is not None else {})
                        except ValidationError as exc:
                            fields = sorted(
                                {
                                    ".".join(str(p) for p in e["loc"]) or "payload"
                                    for e in exc.errors()
                                }
                            )
                            raise ValidationFailed(
                                f"请求格式不正确: {', '.join(fields)} / malformed request",
                                code="malformed_payload",
                                fields=fields,
                            ) from None
                    result = fn(conn, payload) or {}
                    return {"ok": True, **result}
                except DomainError as err:
                    if isinstance(err, PermissionDenied | OutOfRegion | ValidationFailed):
                        self._audit_denied(
                            conn.actor if conn else None,
                            f"socket.{event}",
                            {"namespace": namespace, "reason": err.code},
                        )
                    return {"ok": False, **i18n.error_dict(err)}

            self.socketio.on_event(
                event, timed_socket_event(namespace, event, handler), namespace=namespace
            )
            self.handlers.append(SocketHandler(namespace, event, permission, schema))
            return fn

        return decorate

    # --- relay of domain events ----------------------------------------------------------

    def on_domain_event(self, event_type: str, fn: Callable[[dict[str, Any]], None]) -> None:
        self.event_handlers.setdefault(event_type, []).append(fn)

    def add_companion(self, start: Callable[[], Any], stop: Callable[[], Any]) -> None:
        """Something that runs while the relay does (started and stopped with it)."""
        self._companions.append((start, stop))

    def start_relay(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.runtime.event_bus.subscribe(self._relay, on_gap=self._gap)
            for start, _stop in self._companions:
                start()

    def stop_relay(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            for _start, stop in self._companions:
                stop()

    def _relay(self, envelope: dict[str, Any]) -> None:
        for fn in self.event_handlers.get(envelope.get("type", ""), []) + self.event_handlers.get(
            "*", []
        ):
            try:
                fn(envelope)
            except Exception:
                log.exception("转发事件失败 / relaying %s failed", envelope.get("type"))

    def _gap(self) -> None:
        for ns in self._permissions:
            self.socketio.emit("resync", {}, namespace=ns, ignore_queue=True)

    def emit_local(
        self, event: str, data: Any, *, namespace: str, to: str | list[str] | None = None
    ) -> None:
        """To this process's connections in ``to`` (a connection in several of the rooms gets
        it once)."""
        self.socketio.emit(event, data, namespace=namespace, to=to, ignore_queue=True)

    def emit_to_region(self, event: str, envelope: dict[str, Any], *, namespace: str) -> None:
        """To every connection whose scope covers the event's region (the home region when the
        event names none)."""
        region = envelope.get("region_code") or self.runtime.settings.home_region_code
        for room in scope_rooms(region):
            self.emit_local(event, envelope, namespace=namespace, to=room)

    def tell_supervisors(self, envelope: dict[str, Any]) -> None:
        """The event itself, on the wallboards of the supervisors who may see its region."""
        self.emit_to_region("event", envelope, namespace=SUPERVISOR_NS)
