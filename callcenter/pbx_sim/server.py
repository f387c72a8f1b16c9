"""The AMI server side of the simulator: sessions, login, actions and their exact responses.

Like Asterisk's manager.c: the banner on connect; Challenge/Login (plain or MD5) with a refused
login answered after a delay and the socket closed; ``Permission denied`` before login or
without the write class an action needs; list actions answered with ``EventList: start``, the
items and the Complete event; a session whose reader stalls longer than the write timeout is
dropped, as Asterisk drops a client that does not drain its socket.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import time
from typing import Any

from callcenter.pbx_sim import wire
from callcenter.pbx_sim.pbx import PbxSimulator

log = logging.getLogger(__name__)

ALL_CLASSES = frozenset(set(wire.EVENT_CLASS.values()) | {"originate", "reporting"})

# Write class an action needs (manager.c / app_queue registrations); None: none.
ACTION_PRIVILEGE: dict[str, set[str] | None] = {
    "ping": None,
    "login": None,
    "logoff": None,
    "challenge": None,
    "events": None,
    "queuestatus": None,
    "queuesummary": None,
    "coreshowchannels": {"system", "reporting"},
    "queueadd": {"agent"},
    "queueremove": {"agent"},
    "queuepause": {"agent"},
    "originate": {"originate"},
    "redirect": {"call"},
    "hangup": {"system", "call"},
    "userevent": {"user"},
}


def _classes(value: str) -> set[str]:
    parts = {p.strip().lower() for p in value.split(",") if p.strip()}
    if "all" in parts or "on" in parts:
        return set(ALL_CLASSES)
    return parts


class AmiSession(asyncio.Protocol):
    def __init__(self, server: AmiServer) -> None:
        self.server = server
        self.pbx = server.pbx
        self.buffer = ""
        self.transport: asyncio.Transport | None = None
        self.username: str | None = None
        self.challenge: str | None = None
        self.read: set[str] = set()
        self.write_classes: set[str] = set()
        self.event_mask: set[str] = set()
        self._remove_sink: Any = None
        self._stalled: asyncio.TimerHandle | None = None
        self.closed = False

    # -- transport ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=64 * 1024)
        self.server.sessions.add(self)
        self.send(f"Asterisk Call Manager/{self.pbx.config.banner_version}\r\n".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.sessions.discard(self)
        if self._remove_sink:
            self._remove_sink()
        if self._stalled:
            self._stalled.cancel()

    def pause_writing(self) -> None:
        # Asterisk gives each write writetimeout ms; a reader that stays behind is dropped.
        timeout = self.pbx.config.write_timeout_ms / 1000
        self._stalled = asyncio.get_running_loop().call_later(timeout, self._drop_slow_reader)

    def resume_writing(self) -> None:
        if self._stalled:
            self._stalled.cancel()
            self._stalled = None

    def _drop_slow_reader(self) -> None:
        log.warning(
            "AMI 客户端读取过慢, 断开 / AMI client too slow (write timeout), dropping %s",
            self.username,
        )
        self.server.dropped_slow += 1
        self.close()

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data.decode("utf-8", "replace")
        while True:
            idx_crlf = self.buffer.find("\r\n\r\n")
            idx_lf = self.buffer.find("\n\n")
            candidates = [(i, n) for i, n in ((idx_crlf, 4), (idx_lf, 2)) if i >= 0]
            if not candidates:
                return
            idx, n = min(candidates)
            block, self.buffer = self.buffer[:idx], self.buffer[idx + n :]
            pairs = []
            for line in block.replace("\r\n", "\n").split("\n"):
                k, sep, v = line.partition(":")
                if sep:
                    pairs.append((k.strip(), v[1:] if v.startswith(" ") else v))
            if pairs:
                try:
                    self.handle(pairs)
                except Exception:  # noqa: BLE001 - a bad action must not kill the simulator
                    log.exception("模拟器处理动作失败 / simulator failed on an action")

    # -- actions ------------------------------------------------------------------------------

    def handle(self, pairs: list[tuple[str, str]]) -> None:
        fields: dict[str, Any] = {}
        for k, v in pairs:
            low = k.lower()
            if low in fields:
                cur = fields[low]
                fields[low] = [*cur, v] if isinstance(cur, list) else [cur, v]
            else:
                fields[low] = v
        action_id = fields.get("actionid")
        name = str(fields.get("action", "")).strip()
        low = name.lower()
        if not name:
            return self.send(wire.response("Error", action_id, "Missing action in request"))
        if self.username is None and low not in ("login", "challenge", "logoff"):
            return self.send(wire.response("Error", action_id, "Permission denied"))
        needed = ACTION_PRIVILEGE.get(low, "unknown")
        if needed == "unknown":
            return self.send(
                wire.response(
                    "Error",
                    action_id,
                    f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.",
                )
            )
        if needed and not (needed & self.write_classes):
            return self.send(wire.response("Error", action_id, "Permission denied"))
        getattr(self, f"do_{low}")(fields, action_id, pairs)

    def do_challenge(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if str(f.get("authtype", "")).lower() != "md5":
            return self.send(wire.response("Error", aid, "Must specify AuthType"))
        self.challenge = str(random.randint(100000000, 999999999))
        fields = (
            [("Response", "Success")]
            + ([("ActionID", aid)] if aid is not None else [])
            + [("Challenge", self.challenge)]
        )
        self.send(wire.encode(fields))

    def do_login(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if self.username is not None:
            return self.send(wire.response("Success", aid, "Already authenticated"))
        user = self.pbx.config.users.get(str(f.get("username", "")))
        ok = False
        if user is not None:
            if str(f.get("authtype", "")).lower() == "md5" and self.challenge:
                ok = (
                    f.get("key") == hashlib.md5((self.challenge + user.secret).encode()).hexdigest()
                )
            else:
                ok = f.get("secret") == user.secret
        if not ok:
            self.server.failed_logins += 1
            delay = self.pbx.config.failed_login_delay
            asyncio.get_running_loop().call_later(delay, self._refuse, aid)
            return
        self.username = str(f["username"])
        self.read = _classes(user.read)
        self.write_classes = _classes(user.write)
        self._set_events(str(f.get("events", "on")))
        self.send(wire.response("Success", aid, "Authentication accepted"))
        if "system" in self.event_mask:
            uptime = str(int(time.time() - self.pbx.started))
            self.send(
                wire.encode(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", uptime),
                        ("LastReload", uptime),
                        ("Status", "Fully Booted"),
                    ]
                )
            )

    def _refuse(self, aid: str | None) -> None:
        self.send(wire.response("Error", aid, "Authentication failed"))
        self.close()

    def _set_events(self, value: str) -> None:
        low = value.strip().lower()
        mask = (
            set()
            if low in ("off", "no", "false", "0")
            else self.read & _classes(value if low not in ("yes", "true") else "on")
        )
        self.event_mask = mask
        if self._remove_sink:
            self._remove_sink()
            self._remove_sink = None
        if mask:
            self._remove_sink = self.pbx.add_sink(mask, self._event_sink())

    def _event_sink(self) -> Any:
        """What sends an event to this session, through the user's event filters if any."""
        user = self.pbx.config.users[str(self.username)]
        if not user.eventfilter:
            return lambda _n, _c, data: self.send(data)
        passing = [re.compile(f.encode()) for f in user.eventfilter if not f.startswith("!")]
        barred = [re.compile(f[1:].encode()) for f in user.eventfilter if f.startswith("!")]

        def filtered(_name: str, _cls: str, data: bytes) -> None:
            if passing and not any(p.search(data) for p in passing):
                return
            if any(b.search(data) for b in barred):
                return
            self.send(data)

        return filtered

    def do_events(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        self._set_events(str(f.get("eventmask", "off")))
        fields = [("Response", "Success")] + ([("ActionID", aid)] if aid is not None else [])
        self.send(wire.encode([*fields, ("Events", "On" if self.event_mask else "Off")]))

    def do_logoff(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        self.send(wire.response("Goodbye", aid, "Thanks for all the fish."))
        self.close()

    def do_ping(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        fields = [("Response", "Success")] + ([("ActionID", aid)] if aid is not None else [])
        self.send(wire.encode([*fields, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]))

    def _list(self, aid: str | None, message: str, complete: str, items: list[bytes]) -> None:
        self.send(wire.list_start(aid, message))
        for item in items:
            self.send(item)
        self.send(wire.list_complete(complete, aid, len(items)))

    def do_queuestatus(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        items = self.pbx.queue_status_items(aid, f.get("queue") or None, f.get("member") or None)
        self._list(aid, "Queue status will follow", "QueueStatusComplete", items)

    def do_queuesummary(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        self._list(
            aid,
            "Queue summary will follow",
            "QueueSummaryComplete",
            self.pbx.queue_summary_items(aid, f.get("queue") or None),
        )

    def do_coreshowchannels(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        self._list(
            aid,
            "Channels will follow",
            "CoreShowChannelsComplete",
            self.pbx.core_show_channels_items(aid),
        )

    def do_queueadd(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if not f.get("queue"):
            return self.send(wire.response("Error", aid, "'Queue' not specified."))
        if not f.get("interface"):
            return self.send(wire.response("Error", aid, "'Interface' not specified."))
        err = self.pbx.queue_add(
            f["queue"],
            f["interface"],
            name=str(f.get("membername", "")),
            penalty=int(f.get("penalty") or 0),
            paused=_truthy(f.get("paused")),
            reason=str(f.get("reason", "")),
        )
        self.send(
            wire.response("Error" if err else "Success", aid, err or "Added interface to queue")
        )

    def do_queueremove(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if not f.get("queue") or not f.get("interface"):
            return self.send(
                wire.response("Error", aid, "Need 'Queue' and 'Interface' parameters.")
            )
        err = self.pbx.queue_remove(f["queue"], f["interface"])
        self.send(
            wire.response("Error" if err else "Success", aid, err or "Removed interface from queue")
        )

    def do_queuepause(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if not f.get("interface") or f.get("paused") in (None, ""):
            return self.send(
                wire.response("Error", aid, "Need 'Interface' and 'Paused' parameters.")
            )
        paused = _truthy(f["paused"])
        err = self.pbx.queue_pause(
            f["interface"], paused, queue=f.get("queue") or None, reason=str(f.get("reason", ""))
        )
        ok = "Interface paused successfully" if paused else "Interface unpaused successfully"
        self.send(wire.response("Error" if err else "Success", aid, err or ok))

    def do_hangup(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if not f.get("channel"):
            return self.send(wire.response("Error", aid, "No channel specified"))
        ok = self.pbx.hangup_channel(str(f["channel"]))
        self.send(
            wire.response(
                "Success" if ok else "Error", aid, "Channel Hungup" if ok else "No such channel"
            )
        )

    def do_redirect(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        name = str(f.get("channel", ""))
        if not name:
            return self.send(wire.response("Error", aid, "Channel not specified"))
        if not f.get("exten") or not f.get("context"):
            return self.send(wire.response("Error", aid, "Exten not specified"))
        ok = self.pbx.redirect_channel(name, str(f["context"]), str(f["exten"]))
        self.send(
            wire.response(
                "Success" if ok else "Error",
                aid,
                "Redirect successful" if ok else f"Channel does not exist: {name}",
            )
        )

    def do_originate(self, f: dict[str, Any], aid: str | None, _: Any) -> None:
        if not f.get("channel"):
            return self.send(wire.response("Error", aid, "Channel not specified"))
        if f.get("exten") and not f.get("context"):
            return self.send(wire.response("Error", aid, "Context not specified"))
        if _truthy(f.get("async")):
            self.send(wire.response("Success", aid, "Originate successfully queued"))
            self.pbx.originate(f, aid, self.send)
            return

        # Synchronous: answer once the channel is answered or has failed.
        def on_result(ok: bool) -> None:
            self.send(
                wire.response(
                    "Success" if ok else "Error",
                    aid,
                    "Originate successfully queued" if ok else "Originate failed",
                )
            )

        self.pbx.originate(f, aid, self.send, sync_result=on_result)

    def do_userevent(
        self, f: dict[str, Any], aid: str | None, pairs: list[tuple[str, str]]
    ) -> None:
        if not f.get("userevent"):
            return self.send(wire.response("Error", aid, "UserEvent needs a name"))
        self.send(wire.response("Success", aid, "Event Sent"))
        self.pbx.user_event(pairs)


def _truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


class AmiServer:
    """Listens on TCP and serves every connection from one :class:`PbxSimulator`."""

    def __init__(self, pbx: PbxSimulator) -> None:
        self.pbx = pbx
        self.sessions: set[AmiSession] = set()
        self.failed_logins = 0
        self.dropped_slow = 0
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.pbx.bind_loop(asyncio.get_running_loop())
        self._server = await asyncio.get_running_loop().create_server(
            lambda: AmiSession(self), host, port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("PBX 模拟器 AMI 监听 %s:%d / PBX simulator AMI listening", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.close()
        await self.pbx.stop()

    def drop_all(self) -> None:
        """Close every session at once (as an Asterisk restart would)."""
        for s in list(self.sessions):
            if s.transport is not None:
                s.transport.abort()
