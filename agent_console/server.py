"""Serving the console: a threaded WSGI server that also carries the WebSocket upgrades.

Flask-SocketIO runs in threading mode (simple-websocket), so the console lives beside the
asyncio callcenter and IVR threads of the one-process demo. Each WebSocket holds one thread.
"""

from __future__ import annotations

import logging
import socket
import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    # no version banner (``Server: Werkzeug/3.1.9 Python/3.11.7`` tells an attacker what to try)
    server_version = "hotline"
    sys_version = ""
    # a connection that sends nothing for this long is closed (its thread with it); open
    # Socket.IO connections exchange a ping every 20 s, so only dead or idle sockets go
    timeout = 75

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_request(code, size)


class ConsoleServer:
    def __init__(self, app: Flask, host: str, port: int, *, reuse_port: bool = False) -> None:
        """``reuse_port`` lets several console processes listen on one port; the kernel spreads
        new connections over them (each Socket.IO connection then stays with its process)."""
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._socket.bind((host, port))
        # a backlog for many browsers connecting at once (shift change, the load benchmark)
        self._socket.listen(1024)
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler, fd=self._socket.fileno()
        )
        self.host = host
        self.port = self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="console-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._socket.close()
        realtime = self.app.extensions.get("hotline_realtime")
        if realtime is not None:
            realtime.stop_relay()
        if self._thread is not None:
            self._thread.join(5)
