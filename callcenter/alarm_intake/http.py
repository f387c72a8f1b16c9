"""HTTP intake: vendor platforms POST their devices' messages to ``/alarm-intake/v1/<vendor>``.

The request is signed (vendors.check_request); the body is in the vendor's protocol. The answer
waits for the commit: 202 with what became of each message once it is recorded, 503 when the
database does not answer in time (the vendor retries; a retry is recognised as a repeat).
401 unsigned or forged, 400 malformed, 404 unknown vendor, 413 too large.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from callcenter.alarm_intake.pipeline import Delivery, IntakePipeline
from callcenter.alarm_intake.protocols import PARSERS, ProtocolError
from callcenter.alarm_intake.vendors import Vendor, check_request
from platform_core.db import utcnow

log = logging.getLogger(__name__)

PATH_PREFIX = "/alarm-intake/v1/"
MAX_BODY = 256 * 1024
COMMIT_WAIT_S = 10.0


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("webhook %s: " + format, self.address_string(), *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, err: ProtocolError, vendor: str, raw: bytes) -> None:
        self.server.pipeline.refuse(
            err, transport="http", vendor=vendor, source=self.client_address[0], raw=raw[:2000]
        )
        self._reply(status, {"code": err.reason, "message": err.detail or err.reason})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/alarm-intake/health":
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"code": "not_found", "message": "未找到 / not found"})

    def do_POST(self) -> None:  # noqa: N802
        received = utcnow()
        pipeline = self.server.pipeline
        pipeline.count("http.requests")
        if not self.path.startswith(PATH_PREFIX):
            self._reply(404, {"code": "not_found", "message": "未找到 / not found"})
            return
        code = self.path[len(PATH_PREFIX) :].strip("/")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._refuse(413, ProtocolError("too_large", f"{length} bytes"), code[:20], b"")
            return
        body = self.rfile.read(length)
        vendor: Vendor | None = self.server.vendors.get(code)
        if vendor is None:
            self._refuse(404, ProtocolError("unknown_vendor", code[:40]), code[:20], body)
            return
        problem = check_request(
            vendor,
            timestamp=self.headers.get("X-Hotline-Timestamp"),
            signature=self.headers.get("X-Hotline-Signature"),
            body=body,
            max_skew_s=self.server.max_skew_s,
        )
        if problem is not None:
            self._refuse(401, ProtocolError(problem, "webhook signature"), vendor.code, body)
            return
        try:
            parsed = PARSERS[vendor.protocol](
                body,
                vendor=vendor.code,
                secret=vendor.secret,
                transport="http",
                received_at=received,
            )
        except ProtocolError as err:
            self._refuse(400, err, vendor.code, body)
            return
        for err, raw in parsed.refused:
            pipeline.refuse(
                err, transport="http", vendor=vendor.code, source=self.client_address[0], raw=raw
            )
        done = threading.Event()
        pipeline.submit(
            Delivery(
                parsed.reports,
                lambda _ok: done.set(),
                transport="http",
                vendor=vendor.code,
                source=self.client_address[0],
            )
        )
        if not done.wait(COMMIT_WAIT_S):
            self._reply(503, {"code": "not_committed", "message": "稍后重试 / retry later"})
            return
        refused = [{"reason": e.reason, "detail": e.detail} for e, _raw in parsed.refused]
        self._reply(
            202 if parsed.reports else 400,
            {"accepted": len(parsed.reports), "refused": refused},
        )


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        pipeline: IntakePipeline,
        vendors: dict[str, Vendor],
        max_skew_s: int,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.pipeline = pipeline
        self.vendors = vendors
        self.max_skew_s = max_skew_s
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(target=self.serve_forever, name="intake-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
