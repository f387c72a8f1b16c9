"""A client of the data exchange interface, for departments and lower platforms: the provider
interface's client (the same signed, encrypted wire protocol) under the exchange's path.

    client = ExchangeClient("https://12349.example.gov.cn", key_id, secret)
    client.send_batch("GA-20261207-001", "deaths", [{"record_no": ..., "id_number": ...,
                                                   "name": ..., "died_on": "2026-12-01"}])
"""

from __future__ import annotations

from typing import Any

from platform_core.provider_api.client import ProviderApiClient, ProviderApiError

EXCHANGE_PREFIX = "/exchange/v1"

__all__ = ["EXCHANGE_PREFIX", "ExchangeClient", "ProviderApiError"]


class ExchangeClient(ProviderApiClient):
    prefix = EXCHANGE_PREFIX

    def send_batch(
        self, batch_no: str, kind: str, rows: list[dict[str, Any]], **kw: Any
    ) -> dict[str, Any]:
        """Send a department's batch; safe to resend under the same batch number."""
        result: dict[str, Any] = self.request(
            "POST", "/batches", {"batch_no": batch_no, "kind": kind, "rows": rows}, **kw
        )
        return result

    def send_export(self, payload: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Send an export upward; the answer is the receiver's acknowledgement."""
        result: dict[str, Any] = self.request("POST", "/exports", payload, **kw)
        return result
