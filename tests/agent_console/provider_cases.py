"""The provider portal's, the provider API's and the orders desk's endpoints for the guard walk
in test_guards.py: every one needs a login with its permission, except the signed machine
interface, whose own authentication is tested in test_provider_api.py."""

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
        "provider.check_in": case(
            "POST", f"{order}/check-in", {"latitude": 40.8, "longitude": 111.7}
        ),
        "provider.check_out": case(
            "POST", f"{order}/check-out", {"latitude": 40.8, "longitude": 111.7}
        ),
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
        "provider_api.revoke_key": case(
            "POST", "/api/provider-api-keys/pk_0_x/revoke", {"reason": "泄露"}
        ),
        "orders_desk.dispatch_view": case("GET", "/api/orders/999999/dispatch"),
        "orders_desk.override": case(
            "POST", "/api/orders/999999/dispatch", {"provider_id": 1, "reason": "x"}
        ),
        "orders_desk.visits_due": case("GET", "/api/return-visits/due", scope="content"),
        "orders_desk.record_visit": case(
            "POST", "/api/orders/999999/return-visits", {"result": "satisfied"}
        ),
        "orders_desk.breaches": case("GET", "/api/sla/breaches", scope="content"),
        "orders_desk.evaluations": case("GET", "/api/evaluations", scope="content"),
        "orders_desk.evaluate": case("POST", "/api/evaluations", {"month": "2025-03"}),
        "orders_desk.evaluation_pdf": case("GET", "/evaluations/999999.pdf"),
        "orders_desk.evaluations_xlsx": case("GET", "/evaluations/export.xlsx", scope="content"),
        "orders_desk.settlements": case("GET", "/api/providers/999999/settlements"),
        "orders_desk.settle": case(
            "POST", "/api/providers/999999/settlements", {"month": "2025-03"}
        ),
        "orders_desk.settlement_export": case("GET", "/settlements/999999.csv"),
        "orders_desk.outbox": case("GET", "/api/sms/outbox", scope="content"),
        # a provider's own practitioners (its administrator; test_provider_staff)
        "provider_staff.staff_page": case("GET", "/provider/staff"),
        "provider_staff.staff_add": case("POST", "/provider/staff", {}),
        "provider_staff.staff_card": case("GET", "/provider/staff/999999"),
        "provider_staff.staff_action": case("POST", "/provider/staff/999999/reveal", {}),
        "provider_staff.qualification_remove": case(
            "POST", "/provider/staff/qualifications/999999/remove", {}
        ),
    }
