"""Health, readiness and Prometheus metrics for every long-running service.

The console serves ``/healthz``, ``/readyz`` and ``/metrics`` itself; services without HTTP of
their own (callcenter, the IVR, the alarm intake, the worker) start :func:`serve_operations` on
``HOTLINE_METRICS_PORT``. Live figures (calls waiting, alarms open, jobs queued) are read when
Prometheus scrapes, from the database and Redis that every process already reaches, so no
service keeps a second copy of a number that could drift.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import text

from platform_core import clock
from platform_core.outbox.service import backlog
from platform_core.runtime import Runtime
from platform_core.settings import Settings

log = logging.getLogger(__name__)

Check = Callable[[], None]


def parse_networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``"127.0.0.0/8,10.0.0.5"`` -> networks; a bad entry is a settings error, said at start."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if part:
            out.append(ipaddress.ip_network(part, strict=False))
    return out


def address_in(address: str | None, networks: Iterable[Any]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


def database_check(runtime: Runtime) -> Check:
    def check() -> None:
        with runtime.engine.connect() as c:
            c.execute(text("SELECT 1"))

    return check


def redis_check(runtime: Runtime) -> Check | None:
    if not runtime.settings.redis_url:
        return None
    return lambda: runtime.redis().ping()


def standard_checks(runtime: Runtime) -> dict[str, Check]:
    """What every service needs to do its work: the database, and Redis where configured."""
    checks = {"database": database_check(runtime)}
    redis = redis_check(runtime)
    if redis is not None:
        checks["redis"] = redis
    return checks


def readiness(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run every check; ``(all ok, name -> "ok" or the failure's type)``. A failure's message
    may carry a host or a user name, so only its type is shown."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure makes the service unready
            log.warning("就绪检查失败 / readiness check %s failed: %r", name, exc)
            results[name] = type(exc).__name__
    return all(v == "ok" for v in results.values()), results


class LiveFigures(Collector):
    """Calls waiting per queue, alarms open per status, the outbox's backlog and lag, read at
    scrape time (cached briefly so several scrapers cost one query)."""

    def __init__(self, runtime: Runtime, *, max_age_s: float = 5.0) -> None:
        self.runtime = runtime
        self.max_age_s = max_age_s
        self._cached: tuple[float, dict[str, list[tuple[str, Any]]]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, list[tuple[str, Any]]]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.max_age_s:
                return self._cached[1]
            figures: dict[str, list[tuple[str, Any]]] = {"waiting": [], "alarms": [], "outbox": []}
            try:
                with self.runtime.engine.connect() as c:
                    figures["waiting"] = [
                        (str(q), int(n))
                        for q, n in c.execute(
                            text(
                                "SELECT queue, count(*) FROM call_queue_entries "
                                "WHERE left_at IS NULL GROUP BY queue"
                            )
                        )
                    ]
                    figures["alarms"] = [
                        (str(st), int(n))
                        for st, n in c.execute(
                            text(
                                "SELECT status, count(*) FROM alarms "
                                "WHERE closed_at IS NULL GROUP BY status"
                            )
                        )
                    ]
                    # the SMS outbox: messages waiting to go out and how long the oldest has
                    pending, oldest = c.execute(
                        text(
                            "SELECT count(*), min(created_at) FROM sms_outbox "
                            "WHERE status = 'queued'"
                        )
                    ).one()
                    lag = 0.0
                    if oldest is not None:
                        if oldest.tzinfo is None:  # SQLite hands back naive UTC
                            oldest = oldest.replace(tzinfo=UTC)
                        lag = max(0.0, (clock.now() - oldest).total_seconds())
                    figures["outbox"] = [("sms", (int(pending), lag))]
            except Exception as exc:  # noqa: BLE001 - a scrape never fails the service
                log.warning("读取实时指标失败 / live figures unavailable: %r", exc)
            self._cached = (time.monotonic(), figures)
            return figures

    def collect(self) -> Iterator[Any]:
        figures = self._read()
        waiting = GaugeMetricFamily(
            "hotline_calls_waiting", "Callers waiting in a queue now", labels=["queue"]
        )
        for queue, n in figures["waiting"]:
            waiting.add_metric([queue], n)
        yield waiting
        alarms = GaugeMetricFamily(
            "hotline_alarms_open", "Alarms not yet closed, by status", labels=["status"]
        )
        for status, n in figures["alarms"]:
            alarms.add_metric([status], n)
        yield alarms
        pending = GaugeMetricFamily(
            "hotline_outbox_pending",
            "Messages queued in an outbox, not yet sent",
            labels=["outbox"],
        )
        lag = GaugeMetricFamily(
            "hotline_outbox_lag_seconds",
            "Age of the oldest message still queued in an outbox",
            labels=["outbox"],
        )
        for name, (n, seconds) in figures["outbox"]:
            pending.add_metric([name], n)
            lag.add_metric([name], seconds)
        yield pending
        yield lag


class JobFigures(Collector):
    """RQ: jobs queued, failed and scheduled per queue of this deployment's namespace; and what
    the outbox holds (rows due and waiting for a relay, how late the oldest is)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        queued = GaugeMetricFamily(
            "hotline_jobs_queued", "Jobs waiting in a queue", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "hotline_jobs_failed", "Jobs in the failed registry", labels=["queue"]
        )
        if self.runtime.settings.redis_url:
            try:
                conn = self.runtime.redis()
                ns = self.runtime.settings.redis_namespace
                for name in self.runtime.settings.worker_queues.split(","):
                    q = Queue(f"{ns}:{name.strip()}", connection=conn)
                    queued.add_metric([name.strip()], q.count)
                    failed.add_metric([name.strip()], FailedJobRegistry(queue=q).count)
            except Exception as exc:  # noqa: BLE001
                log.warning("读取任务队列失败 / job figures unavailable: %r", exc)
        yield queued
        yield failed
        yield from self._outbox()

    def _outbox(self) -> Iterator[Any]:
        rows = GaugeMetricFamily(
            "hotline_outbox_rows",
            "Outbox rows: due (waiting for a relay), timers (not yet due), handed (RQ jobs "
            "followed until they end), failing (tried and failed, waiting to be tried again)",
            labels=["state"],
        )
        late = GaugeMetricFamily(
            "hotline_outbox_late_seconds", "How long the oldest due outbox row has waited"
        )
        try:
            with self.runtime.session() as s:
                b = backlog(s)
        except Exception as exc:  # noqa: BLE001
            log.warning("读取出件箱失败 / outbox figures unavailable: %r", exc)
            return
        for state in ("due", "timers", "handed", "failing"):
            rows.add_metric([state], b[state])
        late.add_metric([], b["late_s"])
        yield rows
        yield late


class StatsCollector(Collector):
    """A service's own counters (a ``stats()`` dict of numbers, nested dicts flattened with
    ``_``) as Prometheus families: names ``is_counter`` accepts are monotonic totals, every
    other number a gauge."""

    def __init__(
        self,
        prefix: str,
        read: Callable[[], dict[str, Any]],
        *,
        is_counter: Callable[[str], bool] = lambda _name: False,
    ) -> None:
        self.prefix = prefix
        self.read = read
        self.is_counter = is_counter

    def collect(self) -> Iterator[Any]:
        try:
            flat = dict(_flatten(self.read()))
        except Exception as exc:  # noqa: BLE001
            log.warning("读取服务计数失败 / %s stats unavailable: %r", self.prefix, exc)
            return
        for key, value in sorted(flat.items()):
            name = f"{self.prefix}_{key}"
            if self.is_counter(key):
                yield CounterMetricFamily(name, f"{self.prefix} {key}", value=value)
            else:
                yield GaugeMetricFamily(name, f"{self.prefix} {key}", value=value)


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in data.items():
        name = f"{prefix}{key}".replace(".", "_").replace("-", "_")
        if isinstance(value, dict):
            yield from _flatten(value, name + "_")
        elif isinstance(value, int | float):  # bool is an int: 0 or 1
            yield name, float(value)


_registered_lock = threading.Lock()


_collectors: dict[str, Collector] = {}


def register_once(key: str, collector: Collector) -> Collector:
    """Add a collector to the process's registry once and return the one registered (tests
    build many runtimes in one process; Prometheus refuses a metric name registered twice)."""
    with _registered_lock:
        if key not in _collectors:
            REGISTRY.register(collector)
            _collectors[key] = collector
        return _collectors[key]


def live_figures(runtime: Runtime) -> None:
    """Calls waiting, alarms open and the outbox, read through ``runtime`` (the process's
    latest runtime: a process serves one, a test process builds many)."""
    collector = register_once("live-figures", LiveFigures(runtime))
    assert isinstance(collector, LiveFigures)
    collector.runtime = runtime
    collector._cached = None


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class OperationsServer:
    """``/healthz`` (the process answers), ``/readyz`` (it can do its work) and ``/metrics``
    on a port of their own, for services that do not speak HTTP."""

    def __init__(
        self, settings: Settings, checks: dict[str, Check], *, port: int | None = None
    ) -> None:
        allowed = parse_networks(settings.metrics_allow)

        class Handler(BaseHTTPRequestHandler):
            server_version = "hotline"
            sys_version = ""
            timeout = 10

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._send(200, b'{"status":"ok"}', "application/json")
                elif path == "/readyz":
                    ok, results = readiness(checks)
                    body = json.dumps({"ready": ok, "checks": results}).encode()
                    self._send(200 if ok else 503, body, "application/json")
                elif path == "/metrics" and address_in(self.client_address[0], allowed):
                    payload, content_type = metrics_payload()
                    self._send(200, payload, content_type)
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # scrapes every few seconds would drown the service's own log

        self._server = ThreadingHTTPServer(
            (settings.metrics_host, settings.metrics_port if port is None else port), Handler
        )
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="operations-http", daemon=True
        )

    def start(self) -> OperationsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve_operations(
    runtime: Runtime, *, extra_checks: dict[str, Check] | None = None
) -> OperationsServer | None:
    """Start the operations endpoints when ``HOTLINE_METRICS_PORT`` is set."""
    if not runtime.settings.metrics_port:
        return None
    checks = {**standard_checks(runtime), **(extra_checks or {})}
    server = OperationsServer(runtime.settings, checks).start()
    log.info("运维接口 / operations endpoints on :%s (/healthz /readyz /metrics)", server.port)
    return server
