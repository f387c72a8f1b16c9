"""The care office's endpoints for the guard tables of test_guards. Each desk's refusals of
another region's records are tested with the desk (tests/agent_console/test_care_*.py)."""

from __future__ import annotations

from typing import Any


def care_office_cases(case: Any) -> dict[str, Any]:
    return {
        "care_office.home": case("GET", "/care"),
        "care_gp.queue": case("GET", "/care/gov-purchase", scope="content"),
        "care_gp.new": case("GET", "/care/gov-purchase/new"),
        "care_gp.apply": case("POST", "/care/gov-purchase", {}, scope="content"),
        "care_gp.application": case("GET", "/care/gov-purchase/999999", scope="content"),
        "care_gp.step": case("POST", "/care/gov-purchase/999999/accept", {}, scope="content"),
        "care_gp.notice_pdf": case("GET", "/care/gov-purchase/notices/999999.pdf"),
        "care_gp.assessment_pdf": case("GET", "/care/gov-purchase/999999/assessment.pdf"),
        "care_gp.allowances": case("GET", "/care/gov-purchase/allowances", scope="content"),
        "care_gp.start_run": case("POST", "/care/gov-purchase/allowances/run", {}),
        "care_gp.run_progress": case("GET", "/api/care/allowance-runs/999999"),
        "care_beds.beds": case("GET", "/care/beds", scope="content"),
        "care_beds.new": case("GET", "/care/beds/new"),
        "care_beds.apply": case("POST", "/care/beds", {}, scope="content"),
        "care_beds.bed": case("GET", "/care/beds/999999", scope="content"),
        "care_beds.step": case("POST", "/care/beds/999999/assess", {}, scope="content"),
        "care_beds.contract": case("GET", "/care/beds/999999/contract.pdf"),
        "care_beds.assessment_pdf": case("GET", "/care/beds/999999/assessment.pdf"),
        "care_beds.settlement": case("GET", "/care/beds/settlement", scope="content"),
        "care_beds.settle": case("POST", "/care/beds/settlement", {}, scope="content"),
        "care_beds.export": case("GET", "/care/beds/settlement.csv", scope="content"),
        "care_adapt.cases": case("GET", "/care/adaptation", scope="content"),
        "care_adapt.new": case("GET", "/care/adaptation/new"),
        "care_adapt.apply": case("POST", "/care/adaptation", {}, scope="content"),
        "care_adapt.case": case("GET", "/care/adaptation/999999", scope="content"),
        "care_adapt.step": case("POST", "/care/adaptation/999999/sign", {}, scope="content"),
        "care_adapt.photo": case("GET", "/care/adaptation/photos/999999/before"),
        "care_meals.points": case("GET", "/care/meals", scope="content"),
        "care_meals.open_point": case("POST", "/care/meals", {}, scope="content"),
        "care_meals.point": case("GET", "/care/meals/999999", scope="content"),
        "care_meals.publish_menu": case("POST", "/care/meals/999999/menus", {}, scope="content"),
        "care_meals.settle": case("POST", "/care/meals/999999/settle", {}, scope="content"),
        "care_meals.export": case("GET", "/care/meals/999999/settlement.csv", scope="content"),
        "care_meals.desks": case("GET", "/meal-points", scope="content"),
        "care_meals.counter": case("GET", "/meal-points/999999", scope="content"),
        "care_meals.look_up": case("POST", "/meal-points/999999/look-up", {}, scope="content"),
        "care_meals.redeem": case("POST", "/meal-points/999999/redeem", {}, scope="content"),
        "care_calls.campaigns": case("GET", "/care/campaigns", scope="content"),
        "care_calls.preview": case("POST", "/care/campaigns/preview", {}, scope="content"),
        "care_calls.create": case("POST", "/care/campaigns", {}, scope="content"),
        "care_calls.campaign": case("GET", "/care/campaigns/999999", scope="content"),
        "care_calls.cancel": case("POST", "/care/campaigns/999999/cancel", {}, scope="content"),
        "care_money.page": case("GET", "/care/money", scope="content"),
        "care_money.set_budget": case("POST", "/care/money/budgets", {}, scope="content"),
        "care_after.page": case("GET", "/care/aftercare", scope="content"),
        "care_after.order": case("GET", "/care/orders/999999", scope="content"),
        "care_after.return_visit": case(
            "POST", "/care/orders/999999/return-visit", {}, scope="content"
        ),
        "care_after.survey_call": case(
            "POST", "/care/orders/999999/survey-call", {}, scope="content"
        ),
        "care_after.open_complaint": case(
            "POST", "/care/orders/999999/complaints", {}, scope="content"
        ),
        "care_after.complaint_step": case(
            "POST", "/care/complaints/999999/handle", {}, scope="content"
        ),
        "care_after.close": case("POST", "/care/orders/999999/close", {}, scope="content"),
    }
