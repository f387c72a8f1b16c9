"""Serving the console in production: gunicorn with one gevent worker per process.

Flask-SocketIO needs every request of one Socket.IO connection in one process, so a gunicorn
here has exactly one worker and a deployment runs several of these processes behind nginx
(sticky by login). The worker is gevent's (``HOTLINE_CONSOLE_SERVER=gunicorn-gevent``, the
default): it monkey-patches the standard library before the app is imported, so the console's
threads (its sockets, the event relay, the routers) are greenlets and psycopg waits through
gevent (psycopg 3 chooses its wait function when it is imported, after the patch). Measured
with bench/console_load.py against gthread (``HOTLINE_CONSOLE_SERVER=gunicorn``: a thread per
open WebSocket, up to ``HOTLINE_CONSOLE_THREADS``) and Werkzeug, three runs each on one
machine: see the README's Benchmarks. Up to ``HOTLINE_CONSOLE_THREADS`` connections per process
either way; idle keep-alive connections are closed after ``HOTLINE_CONSOLE_IDLE_TIMEOUT_S``. The
gunicorn master restarts a worker that dies or stops answering within
``HOTLINE_CONSOLE_READ_TIMEOUT_S``. The runtime (engine, Redis, the relay's threads) is built in
the worker after the fork, never in the master, so no connection or thread is shared across a
fork.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from platform_core.settings import Settings

log = logging.getLogger(__name__)


# HOTLINE_CONSOLE_SERVER -> gunicorn's worker class
WORKER_CLASSES = {"gunicorn-gevent": "gevent", "gunicorn": "gthread"}


def gunicorn_options(
    settings: Settings, *, host: str, port: int, reuse_port: bool, worker_class: str | None = None
) -> dict[str, Any]:
    """gunicorn's options for one console process; ``worker_class`` defaults to the one
    ``settings.console_server`` names."""
    worker_class = worker_class or WORKER_CLASSES[settings.console_server]
    threads = max(1, settings.console_threads)
    return {
        "bind": [f"{host}:{port}"],
        "workers": 1,
        "worker_class": worker_class,
        "threads": threads,
        # no more connections than this at once (sockets plus page requests), either worker
        "worker_connections": threads + 200,
        "backlog": 1024,
        "keepalive": settings.console_idle_timeout_s,
        "timeout": settings.console_read_timeout_s,
        "graceful_timeout": 10,
        "reuse_port": reuse_port,
        "preload_app": False,
        "accesslog": None,
        "errorlog": "-",
        "logger_class": HotlineLogger,
        "loglevel": "warning",
        "proc_name": "hotline-console",
        "control_socket_disable": True,
    }


class HotlineLogger(Logger):  # type: ignore[misc]
    """gunicorn's messages go through the process's own handlers (JSON lines, personal data
    masked) instead of gunicorn's plain-text stream."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


class ConsoleApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn driven from ``hotline console``: options from the settings, the app built by
    ``build`` inside the worker."""

    def __init__(self, build: Callable[[], Any], options: dict[str, Any]) -> None:
        self._build = build
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self._build()
