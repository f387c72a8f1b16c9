"""A client of the provider reporting interface, for providers to copy (with ``wire.py``).

    client = ProviderApiClient("https://12349.example.gov.cn", key_id, secret)
    client.report("GD20250301-00012", 3, "checked_in", latitude=40.84, longitude=111.75)
    client.orders(status="dispatched")

``report`` is safe to retry with the same sequence number: the server applies each
(order number, sequence) once and answers a repeat with the first result (``duplicate``).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

try:  # inside the platform
    from platform_core.provider_api import wire
except ImportError:  # copied next to wire.py
    import wire  # type: ignore[no-redef]

API_PREFIX = "/provider-api/v1"


class ProviderApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class ProviderApiClient:
    # the interface's path; the data exchange speaks the same protocol under its own
    prefix = API_PREFIX

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        *,
        cipher: str = wire.AES_GCM,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_id, self.secret, self.cipher = key_id, secret, cipher
        self.timeout = timeout
        self.http = session or requests.Session()

    def report(self, order_no: str, seq: int, event: str, **fields: Any) -> dict[str, Any]:
        """Report one service event of an order (accepted, rejected, staff_assigned, en_route,
        checked_in, checked_out, completed, confirmed); ``seq`` counts up per order from 1."""
        payload = {"order_no": order_no, "seq": seq, "event": event, **fields}
        result: dict[str, Any] = self.request("POST", "/events", payload)
        return result

    def orders(self, status: str | None = None) -> list[dict[str, Any]]:
        """The provider's orders still under way (optionally of one status)."""
        query = {"status": status} if status else None
        result: dict[str, Any] = self.request("GET", "/orders", None, query=query)
        return list(result["orders"])

    def request(
        self,
        method: str,
        path: str,
        payload: Any,
        *,
        query: dict[str, str] | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> Any:
        full_path = self.prefix + path + (("?" + urlencode(query)) if query else "")
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or wire.new_nonce()
        aad = wire.additional_data(self.key_id, ts, nonce)
        body = b"" if payload is None else wire.seal(self.secret, self.cipher, payload, aad)
        headers = {
            wire.H_KEY: self.key_id,
            wire.H_TIMESTAMP: ts,
            wire.H_NONCE: nonce,
            wire.H_SIGNATURE: wire.sign(self.secret, method, full_path, ts, nonce, body),
            "Accept": "application/json",
        }
        if body:
            headers["Content-Type"] = "application/json"
        base = urlsplit(self.base_url)
        url = f"{base.scheme}://{base.netloc}{base.path}{full_path}"
        resp = self.http.request(method, url, data=body, headers=headers, timeout=self.timeout)
        if resp.status_code >= 400:
            try:
                err = resp.json()
            except ValueError:
                err = {"code": "http_error", "message": resp.text[:200]}
            raise ProviderApiError(resp.status_code, err.get("code", ""), err.get("message", ""))
        reply_aad = wire.additional_data(self.key_id, ts, nonce, response=True)
        return wire.open_envelope(self.secret, self.cipher, resp.content, reply_aad)


def main() -> None:  # pragma: no cover - a manual check from a provider's machine

    p = argparse.ArgumentParser(description="12349 服务商上报 / report one event")
    p.add_argument("base_url")
    p.add_argument("key_id")
    p.add_argument("secret")
    p.add_argument("order_no")
    p.add_argument("seq", type=int)
    p.add_argument("event")
    p.add_argument("--cipher", default=wire.AES_GCM, choices=wire.CIPHERS)
    a = p.parse_args()
    client = ProviderApiClient(a.base_url, a.key_id, a.secret, cipher=a.cipher)
    print(json.dumps(client.report(a.order_no, a.seq, a.event), ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
