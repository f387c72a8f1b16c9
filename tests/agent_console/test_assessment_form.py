"""The GB/T 42195-2022 form in the console: every item with its options, the grade with the
standard's adjustments before saving, two distinct assessors, the profile's grade after saving,
and the printed report as an audited export, refused outside the user's region."""

from __future__ import annotations

import re

from platform_core import clock
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from tests.agent_console.conftest import login
from tests.platform_core.care_support import FULL_MARKS, MODERATE_46


def _client(app, username: str):
    client = app.test_client()
    token = login(client, username)
    return client, {"X-CSRF-Token": token}


def _form(**changes) -> dict:
    return {
        "items": MODERATE_46,
        "assessed_on": clock.today().isoformat(),
        "reason": "first",
        "assessors": ["王敏", "赵云"],
        "agency": "新城区评估中心",
        **changes,
    }


def test_the_form_lists_the_items_and_grades_them_before_saving(app, world) -> None:
    client, headers = _client(app, "agent_hhht")
    page = client.get(f"/elders/{world.elders['hhht']}/assessment")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    items = re.findall(r'<fieldset class="assess-item missing" data-item="(B\.\d\.\d)"', html)
    assert len(items) == 26 and items[0] == "B.1.1" and items[-1] == "B.4.5"
    # each item's options with their scores: 上下楼梯 scores 0-3, 意识水平 0-2
    assert len(re.findall(r'name="B\.2\.4" value="\d"', html)) == 4
    assert len(re.findall(r'name="B\.3\.9" value="\d"', html)) == 3
    assert "昏睡或昏迷" in html and "巴特尔" in html
    with world.runtime.session() as s:
        opened = audit.list_records(s, action="assessment.open_form")
        assert [(r.actor_user_id, r.target_id) for r in opened] == [
            (world.users["agent_hhht"], str(world.elders["hhht"]))
        ]

    # the grade, with the standard's adjustments, before anything is saved
    resp = client.post("/api/assessments/score", json={"items": MODERATE_46}, headers=headers)
    assert resp.status_code == 200
    assert resp.json["dimension_totals"] == {"B.1": 0, "B.2": 3, "B.3": 28, "B.4": 15}
    assert resp.json["total"] == 46
    assert resp.json["final_grade"]["label"] == "中度失能"
    # two falls in the last 30 days: one grade worse
    resp = client.post(
        "/api/assessments/score", json={"items": MODERATE_46, "risk_events": 2}, headers=headers
    )
    assert (resp.json["preliminary_grade"]["label"], resp.json["final_grade"]["label"]) == (
        "中度失能",
        "重度失能",
    )
    # a dementia diagnosis on full marks
    resp = client.post(
        "/api/assessments/score",
        json={"items": FULL_MARKS, "diagnoses": "F03"},
        headers=headers,
    )
    assert resp.json["final_grade"]["label"] == "轻度失能"
    missing = {k: v for k, v in MODERATE_46.items() if k != "B.3.9"}
    resp = client.post("/api/assessments/score", json={"items": missing}, headers=headers)
    assert resp.status_code == 422 and "B.3.9 意识水平" in resp.json["message"]
    resp = client.post(
        "/api/assessments/score", json={"items": {**MODERATE_46, "B.2.4": 4}}, headers=headers
    )
    assert resp.status_code == 422 and "超出 0-3" in resp.json["message"]


def test_saving_needs_two_assessors_updates_the_profile_and_prints(app, world) -> None:
    elder = world.elders["hhht"]
    client, headers = _client(app, "agent_hhht")
    same = client.post(
        f"/api/elders/{elder}/assessments",
        json=_form(assessors=["王敏", "王敏"]),
        headers=headers,
    )
    assert same.status_code == 422 and same.json["code"] == "invalid_assessment_form"
    assert "两名不同的评估员" in same.json["message"]
    # the names as written, not a Python list
    assert "王敏、王敏" in same.json["message"] and "[" not in same.json["message"]
    with world.runtime.session() as s:
        assert s.get(Elder, elder).ability_grade is None

    resp = client.post(f"/api/elders/{elder}/assessments", json=_form(), headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    saved = resp.json["assessment"]
    assert (saved["total"], saved["grade_label"]) == (46, "中度失能")
    with world.runtime.session() as s:
        assert s.get(Elder, elder).ability_grade == "moderate"
        assert audit.list_records(s, action="assessment.record", target_id=str(elder))
    page = client.get(f"/elders/{elder}/assessment").get_data(as_text=True)
    assert "中度失能" in page and saved["report_url"] in page

    # the printed report: an export of health data, audited, and only within the region
    pdf = client.get(saved["report_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and len(pdf.data) > 2000
    other, _ = _client(app, "agent_bt")
    refused = other.get(saved["report_url"])
    assert refused.status_code == 403
    with world.runtime.session() as s:
        exports = audit.list_records(s, action="assessment.export")
        assert [r.actor_user_id for r in exports] == [world.users["agent_hhht"]]
        denied = audit.list_records(
            s, action="http.out_of_region", actor_user_id=world.users["agent_bt"]
        )
        assert [r.target_type for r in denied] == ["assessment"]
