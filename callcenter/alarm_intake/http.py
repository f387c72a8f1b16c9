"""HTTP intake: vendor platforms POST their devices' messages to ``/alarm-intake/v1/<vendor>``.

The request is signed (vendors.check_request); the body is in the vendor's protocol. The answer
waits for the commit: 202 with what became of each message once it is recorded, 503 when the
database does not answer in time (the vendor retries; a retry is recognised as a repeat).
Every refusal is JSON ``{"code", "message", "detail"}`` with the message in Chinese first, and
is counted and kept like any rejected device message: 400 malformed (nested deeper than the
protocol allows, bad Content-Length, nothing usable), 401 unsigned or forged, 404 unknown
vendor, 408 body not received in time, 411 no Content-Length, 413 too large.

A connection gets ``read_timeout_s`` for its request line and headers and the same again for
its whole body (a body dribbled a byte at a time is cut off at that deadline too), so a slow or
broken client never holds a thread for long.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from callcenter.alarm_intake.pipeline import Delivery, IntakePipeline
from callcenter.alarm_intake.protocols import MAX_PAYLOAD, ProtocolError, read_payload
from callcenter.alarm_intake.vendors import Vendor, check_request
from platform_core.db import utcnow

log = logging.getLogger(__name__)

PATH_PREFIX = "/alarm-intake/v1/"
MAX_BODY = MAX_PAYLOAD
COMMIT_WAIT_S = 10.0
READ_TIMEOUT_S = 10.0


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # the socket's timeout, for the request line and headers (and an idle keep-alive)
        self.timeout = self.server.read_timeout_s  # type: ignore[misc]
        super().setup()
        self._answered = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("webhook %s: " + format, self.address_string(), *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self._answered = True
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, err: ProtocolError, vendor: str, raw: bytes) -> None:
        self.server.pipeline.refuse(
            err, transport="http", vendor=vendor, source=self.client_address[0], raw=raw[:2000]
        )
        self._reply(status, {"code": err.reason, "message": err.message, "detail": err.detail})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/alarm-intake/health":
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"code": "not_found", "message": "未找到 / not found"})

    def do_POST(self) -> None:  # noqa: N802
        try:
            self._post()
        except OSError:  # the client went away or stopped reading our answer
            self.close_connection = True
        except Exception as error:  # whatever a request holds, it gets an answer, never a 500
            log.exception("Webhook 请求处理出错 / a webhook request failed")
            self.close_connection = True
            if not self._answered:
                with contextlib.suppress(OSError):
                    self._refuse(400, ProtocolError("unreadable", type(error).__name__), "", b"")

    def _body_length(self, vendor: str) -> int | None:
        """The declared body length, or None once the request has been refused."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._refuse(411, ProtocolError("length_required", "chunked body"), vendor, b"")
            return None
        given = (self.headers.get("Content-Length") or "").strip()
        if not given:
            self.close_connection = True
            self._refuse(411, ProtocolError("length_required"), vendor, b"")
            return None
        if not (given.isascii() and given.isdigit()):  # int() takes "+1", "1_0", "١٠"
            self.close_connection = True
            self._refuse(400, ProtocolError("bad_content_length", given[:20]), vendor, b"")
            return None
        if len(given) > 9 or int(given) > MAX_BODY:
            self.close_connection = True
            self._refuse(413, ProtocolError("too_large", f"{given[:20]} bytes"), vendor, b"")
            return None
        return int(given)

    def _read_body(self, length: int) -> tuple[bytes, bool]:
        """What arrived of the body within the deadline, and whether that is all of it."""
        deadline = time.monotonic() + self.server.read_timeout_s
        chunks: list[bytes] = []
        got = 0
        while got < length:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.connection.settimeout(left)
            try:
                chunk = self.rfile.read1(min(65536, length - got))
            except TimeoutError:
                break
            if not chunk:
                break  # the client closed its side
            chunks.append(chunk)
            got += len(chunk)
        if got < length:
            return b"".join(chunks), False
        self.connection.settimeout(self.server.read_timeout_s)
        return b"".join(chunks), True

    def _post(self) -> None:
        received = utcnow()
        pipeline = self.server.pipeline
        pipeline.count("http.requests")
        if not self.path.startswith(PATH_PREFIX):
            self.close_connection = True
            self._reply(404, {"code": "not_found", "message": "未找到 / not found"})
            return
        code = self.path[len(PATH_PREFIX) :].strip("/")[:40]
        length = self._body_length(code[:20])
        if length is None:
            return
        body, whole = self._read_body(length)
        if not whole:
            self.close_connection = True
            self._refuse(
                408,
                ProtocolError("incomplete_body", f"{len(body)} of {length} bytes"),
                code[:20],
                body,
            )
            return
        vendor: Vendor | None = self.server.vendors.get(code)
        if vendor is None:
            self._refuse(404, ProtocolError("unknown_vendor", code), code[:20], body)
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
            parsed = read_payload(
                vendor.protocol,
                body,
                vendor=vendor.code,
                secret=vendor.secret,
                transport="http",
                received_at=received,
            )
        except ProtocolError as unusable:
            self._refuse(400, unusable, vendor.code, body)
            return
        for err, raw in parsed.refused:
            pipeline.refuse(
                err, transport="http", vendor=vendor.code, source=self.client_address[0], raw=raw
            )
        done = threading.Event()
        delivery = Delivery(
            parsed.reports,
            lambda _ok: done.set(),
            transport="http",
            vendor=vendor.code,
            source=self.client_address[0],
        )
        pipeline.submit(delivery)
        if not done.wait(COMMIT_WAIT_S):
            self._reply(503, {"code": "not_committed", "message": "稍后重试 / retry later"})
            return
        refused = [
            {"reason": e.reason, "message": e.message, "detail": e.detail}
            for e in [e for e, _raw in parsed.refused] + delivery.set_aside
        ]
        accepted = len(parsed.reports) - len(delivery.set_aside)
        self._reply(202 if accepted else 400, {"accepted": accepted, "refused": refused})


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
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.pipeline = pipeline
        self.vendors = vendors
        self.max_skew_s = max_skew_s
        self.read_timeout_s = read_timeout_s
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
