"""A local stand-in for Twilio's REST API (2010-04-01 Messages), speaking its JSON.

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded To, From,
Body; HTTP Basic auth with the account SID and auth token) with 201 and a Message resource, and
``GET .../Messages/{Sid}.json`` with the message's current status. Errors use Twilio's error
body ``{"code", "message", "more_info", "status"}``: 401/20003 for bad credentials, 400/21211
for an invalid 'To' number, and whatever a test scripts (429/20429 rate limits, 5xx).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

API = "/2010-04-01"


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "test-auth-token"
    # scripted answers for the next create calls: (http status, twilio code, message)
    failures: list[tuple[int, int, str]] = field(default_factory=list)
    # the status a fetched message reports (a real one moves on to delivered)
    fetched_status: str = "delivered"
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ---------------------------------------------------------------- protocol

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: int, message: str) -> None:
        self._send(
            h,
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return h.headers.get("Authorization") == f"Basic {expected}"

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        with self.lock:
            self.requests.append((method, h.path))
        base = f"{API}/Accounts/{self.account_sid}/Messages"
        if not self._authorized(h):
            return self._error(h, 401, 20003, "Authenticate")
        if method == "POST" and h.path == base + ".json":
            length = int(h.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(h.rfile.read(length).decode()).items()}
            return self._create(h, form)
        if method == "GET" and h.path.startswith(base + "/") and h.path.endswith(".json"):
            sid = h.path[len(base) + 1 : -len(".json")]
            with self.lock:
                msg = self.messages.get(sid)
                if msg is not None:
                    msg["status"] = self.fetched_status
                    if self.fetched_status in ("failed", "undelivered"):
                        msg["error_code"], msg["error_message"] = (
                            30005,
                            "Unknown destination handset",
                        )
            if msg is None:
                return self._error(h, 404, 20404, f"The requested resource {h.path} was not found")
            return self._send(h, 200, msg)
        return self._error(h, 404, 20404, f"The requested resource {h.path} was not found")

    def _create(self, h: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        with self.lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            return self._error(h, *failure)
        to = form.get("To", "")
        if not (to.startswith("+861") and len(to) == 14 and to[1:].isdigit()):
            return self._error(h, 400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("Body"):
            return self._error(h, 400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        msg = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"{API}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"{API}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self.lock:
            self.messages[sid] = dict(msg)
        self._send(h, 201, msg)

    def sent_bodies(self) -> list[str]:
        with self.lock:
            return [m["body"] for m in self.messages.values()]
