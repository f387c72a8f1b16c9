"""The console behind its reverse proxy, and what operations watch: forwarded headers believed
only from the proxy, cookies ``Secure`` on HTTPS, ``/healthz``, ``/readyz`` and ``/metrics``
with HTTP and Socket.IO latency histograms and the connected sockets."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from prometheus_client import Gauge, Histogram
from werkzeug.middleware.proxy_fix import ProxyFix

from agent_console.security import guard
from platform_core import observability
from platform_core.runtime import Runtime

# Buckets from a cached page (a few ms) to a report (seconds): the console's targets are
# p95 < 300 ms and p99 < 1 s, so both sit on a bucket boundary.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

HTTP_LATENCY = Histogram(
    "hotline_http_request_duration_seconds",
    "Console HTTP requests: arrival to response headers",
    ["method", "endpoint", "status"],
    buckets=LATENCY_BUCKETS,
)
SOCKET_LATENCY = Histogram(
    "hotline_socketio_event_duration_seconds",
    "Console Socket.IO events: arrival to acknowledgement",
    ["namespace", "event"],
    buckets=LATENCY_BUCKETS,
)
SOCKETS = Gauge("hotline_socketio_connections", "Open Socket.IO connections", ["namespace"])

FORWARDED = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
)


class BehindProxy:
    """WSGI middleware in front of everything (Socket.IO included).

    A request from one of the proxy's addresses is fixed by ProxyFix with one hop of each
    header: the client's address, scheme and host as nginx saw them. From anywhere else the
    forwarded headers are dropped, so nobody who reaches a console process directly can claim
    another address or HTTPS. On HTTPS every cookie the console sets is ``Secure``."""

    def __init__(self, wsgi_app: Callable[..., Any], proxies: Iterable[Any]) -> None:
        self.proxies = list(proxies)
        self.plain = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        if self.proxies and observability.address_in(environ.get("REMOTE_ADDR"), self.proxies):
            app = self.fixed
        else:
            for header in FORWARDED:
                environ.pop(header, None)
            app = self.plain
        timed = not environ.get("PATH_INFO", "").startswith("/socket.io")
        # Flask-SocketIO hands Flask a copy of the environ: the endpoint comes back in this box
        named: dict[str, str] = {}
        environ["hotline.named"] = named

        def respond(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            if environ.get("wsgi.url_scheme") == "https":
                headers = [_secure(h) for h in headers]
            if timed:
                HTTP_LATENCY.labels(
                    environ.get("REQUEST_METHOD", ""),
                    named.get("endpoint", "unmatched"),
                    status.split(" ", 1)[0],
                ).observe(time.perf_counter() - started)
            return start_response(status, headers, *exc)

        return app(environ, respond)


def _secure(header: tuple[str, str]) -> tuple[str, str]:
    name, value = header
    if name.lower() == "set-cookie" and "; secure" not in value.lower():
        return name, value + "; Secure"
    return header


def timed_socket_event(
    namespace: str, event: str, handler: Callable[..., Any]
) -> Callable[..., Any]:
    """``handler`` with its duration observed in the Socket.IO latency histogram."""
    histogram = SOCKET_LATENCY.labels(namespace, event)

    def run(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return handler(*args)
        finally:
            histogram.observe(time.perf_counter() - started)

    return run


def init_app(app: Flask, runtime: Runtime) -> None:
    settings = runtime.settings
    app.wsgi_app = BehindProxy(  # type: ignore[method-assign]
        app.wsgi_app, observability.parse_networks(settings.console_trusted_proxies)
    )
    metrics_allowed = observability.parse_networks(settings.metrics_allow)
    checks = observability.standard_checks(runtime)
    observability.live_figures(runtime)

    @app.after_request
    def name_endpoint(response: Response) -> Response:
        named = request.environ.get("hotline.named")
        if named is not None:
            named["endpoint"] = request.endpoint or "unmatched"
        return response

    @app.get("/healthz", endpoint="ops.healthz")
    @guard(public=True)
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    @app.get("/readyz", endpoint="ops.readyz")
    @guard(public=True)
    def readyz() -> Any:
        ok, results = observability.readiness(checks)
        realtime = app.extensions.get("hotline_realtime")
        if realtime is not None and not realtime.relaying():
            ok, results["relay"] = False, "stopped"
        return jsonify({"ready": ok, "checks": results}), 200 if ok else 503

    @app.get("/metrics", endpoint="ops.metrics")
    @guard(public=True)
    def metrics() -> Any:
        if not observability.address_in(request.remote_addr, metrics_allowed):
            abort(404)
        realtime = app.extensions.get("hotline_realtime")
        if realtime is not None:
            for namespace, count in realtime.connection_counts().items():
                SOCKETS.labels(namespace).set(count)
        payload, content_type = observability.metrics_payload()
        return Response(payload, content_type=content_type)
