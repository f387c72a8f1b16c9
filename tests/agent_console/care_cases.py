"""The care, order-cancel and assessment endpoints for the guard tables of test_guards. Region
refusals of records other than elders (an order, an assessment) are tested with their features
in test_care_from_call and test_assessment_form."""

from __future__ import annotations

from typing import Any

from tests.platform_core.care_support import FULL_MARKS


def care_cases(case: Any) -> dict[str, Any]:
    return {
        "care.status": case("GET", "/api/elders/{elder_bt}/care", scope="elder"),
        "care.start": case(
            "POST", "/api/elders/{elder_bt}/care/care_bed", {"linkedid": "1.1"}, scope="elder"
        ),
        "agent.cancel_order": case("POST", "/api/orders/999999/cancel", {"reason": "误建"}),
        "assessment.form": case("GET", "/elders/{elder_bt}/assessment", scope="elder"),
        "assessment.score": case("POST", "/api/assessments/score", {"items": FULL_MARKS}),
        "assessment.record": case(
            "POST",
            "/api/elders/{elder_bt}/assessments",
            {
                "items": FULL_MARKS,
                "assessed_on": "2026-01-05",
                "reason": "first",
                "assessors": ["王敏", "赵云"],
            },
            scope="elder",
        ),
        "assessment.report": case("GET", "/assessments/999999.pdf"),
    }
