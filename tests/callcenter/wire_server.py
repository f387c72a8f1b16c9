"""A scripted AMI peer over real TCP, for byte-level faults the PBX simulator never makes.

Each accepted connection runs ``script(conn)``; :class:`Conn` reads the client's actions as
parsed dicts and writes raw bytes (optionally in separate TCP segments).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def msg(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.actions: list[dict[str, str]] = []
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def read_action(self, timeout: float = 5.0) -> dict[str, str] | None:
        fields: dict[str, str] = {}
        while True:
            try:
                line = await asyncio.wait_for(self.reader.readline(), timeout)
            except TimeoutError:
                return None
            if not line:
                return None
            text = line.decode("utf-8").rstrip("\r\n")
            if not text:
                if fields:
                    self.actions.append(fields)
                    return fields
                continue
            k, _, v = text.partition(": ")
            fields[k.lower()] = v

    async def send(self, data: bytes, *, pause: float = 0.0) -> None:
        self.writer.write(data)
        await self.writer.drain()
        if pause:
            await asyncio.sleep(pause)

    async def login(self, *, secret: str = "s3cret", fully_booted: bool = False) -> bool:
        """Answer Challenge/Login like Asterisk; False (after closing) when refused."""
        challenge = "424242"
        while True:
            action = await self.read_action()
            if action is None:
                return False
            name = action.get("action", "").lower()
            aid = action.get("actionid", "")
            if name == "challenge":
                await self.send(
                    msg(("Response", "Success"), ("Challenge", challenge), ("ActionID", aid))
                )
                continue
            if name == "login":
                if "key" in action:
                    ok = action["key"] == hashlib.md5((challenge + secret).encode()).hexdigest()
                else:
                    ok = action.get("secret") == secret
                if not ok:
                    await asyncio.sleep(0.2)  # Asterisk sleeps 1 s; shortened for the tests
                    await self.send(
                        msg(
                            ("Response", "Error"),
                            ("ActionID", aid),
                            ("Message", "Authentication failed"),
                        )
                    )
                    self.writer.close()
                    return False
                await self.send(
                    msg(
                        ("Response", "Success"),
                        ("ActionID", aid),
                        ("Message", "Authentication accepted"),
                    )
                )
                if fully_booted:
                    await self.send(
                        msg(
                            ("Event", "FullyBooted"),
                            ("Privilege", "system,all"),
                            ("Uptime", "5"),
                            ("LastReload", "5"),
                            ("Status", "Fully Booted"),
                        )
                    )
                return True

    async def serve_pings(self) -> None:
        while True:
            action = await self.read_action(timeout=30)
            if action is None:
                return
            name = action.get("action", "").lower()
            if name == "ping":
                await self.send(
                    msg(
                        ("Response", "Success"),
                        ("ActionID", action.get("actionid", "")),
                        ("Ping", "Pong"),
                        ("Timestamp", "1.0"),
                    )
                )
            elif name == "logoff":
                await self.send(
                    msg(
                        ("Response", "Goodbye"),
                        ("ActionID", action.get("actionid", "")),
                        ("Message", "Thanks for all the fish."),
                    )
                )
                self.writer.close()
                return


class ScriptedServer:
    def __init__(self, script: Callable[[Conn], Awaitable[None]], *, banner: bool = True) -> None:
        self.script = script
        self.banner = banner
        self.connections: list[Conn] = []
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        for c in self.connections:
            c.writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(reader, writer)
        self.connections.append(conn)
        if self.banner:
            await conn.send(BANNER)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await self.script(conn)
