"""The provider portal's and the provider API's endpoints for the guard walk in test_guards.py:
every one needs a login with its permission, except the signed machine interface, whose own
authentication is tested in test_provider_api.py."""

from __future__ import annotations

from typing import Any


def provider_cases(case: Any) -> dict[str, Any]:
    order = "/api/provider/orders/999999"
    return {
        "provider.inbox": case("GET", "/provider"),
        "provider.order_page": case("GET", "/provider/orders/999999"),
        "provider.list_orders": case("GET", "/api/provider/orders", scope="content"),
        "provider.order_detail": case("GET", order),
        "provider.photo": case("GET", "/api/provider/photos/999999"),
        "provider.accept": case("POST", f"{order}/accept", {}),
        "provider.reject": case("POST", f"{order}/reject", {"reason": "人手不足"}),
        "provider.assign_staff": case("POST", f"{order}/assign-staff", {"staff_id": 1}),
        "provider.start_travel": case("POST", f"{order}/start-travel", {}),
        "provider.check_in": case("POST", f"{order}/check-in", {"latitude": 40.8, "longitude": 111.7}),
        "provider.check_out": case("POST", f"{order}/check-out", {"latitude": 40.8, "longitude": 111.7}),
        "provider.complete": case("POST", f"{order}/complete", {"report": "完成"}),
        "provider.confirm": case("POST", f"{order}/confirm", {"code": "123456"}),
        "provider.resend_code": case("POST", f"{order}/resend-code", {}),
        "provider.upload_photo": case("POST", f"{order}/photos", {}),
        "provider_api.report_event": case(public=True),
        "provider_api.list_orders": case(public=True),
        "provider_api.openapi_yaml": case(public=True),
        "provider_api.openapi_json": case(public=True),
        "provider_api.keys": case("GET", "/api/providers/999999/api-keys"),
        "provider_api.issue_key": case("POST", "/api/providers/999999/api-keys", {}),
        "provider_api.revoke_key": case("POST", "/api/provider-api-keys/pk_0_x/revoke", {"reason": "泄露"}),
    }
