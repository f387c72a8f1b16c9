"""Recording assessments: the elder's grade follows, nothing half-written, legacy records,
the re-assessment schedule and its reminders, the printed report."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from platform_core import clock
from platform_core.assessment import service
from platform_core.assessment.jobs import remind_due_reassessments
from platform_core.assessment.models import Assessment
from platform_core.assessment.policy import AssessmentPolicy
from platform_core.assessment.report import render_report
from platform_core.assessment.scoring import InvalidAssessmentForm
from platform_core.audit.service import list_records
from platform_core.care_policy.service import set_policy
from platform_core.elders.models import Elder
from platform_core.errors import OutOfRegion, ValidationFailed
from tests.platform_core.care_support import (
    BAOTOU_VILLAGE,
    FULL_MARKS,
    MODERATE_46,
    agent,
    make_elder,
    officer,
)

TODAY = clock.today()


def collect(runtime):
    seen: list[dict] = []
    runtime.event_bus.subscribe(seen.append)
    return seen


def test_recording_updates_the_profile_and_publishes_after_commit(regions) -> None:
    seen = collect(regions)
    with regions.session() as s:
        elder = make_elder(s)
        row = service.record_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            item_scores=MODERATE_46,
            assessed_on=TODAY,
            reason="首次评估",
            assessors=["王敏", "赵云"],
            diagnoses=["F03"],
            agency="呼和浩特市评估中心",
        )
        regions.event_bus.drain()
        assert seen == []  # not before the commit
        elder_id, assessment_id = elder.id, row.id
    regions.event_bus.drain()
    assert [e["type"] for e in seen] == ["AssessmentRecorded"]
    assert seen[0]["data"]["final_grade"] == "severe"  # 46 中度, dementia: 重度
    with regions.session() as s:
        elder = s.get(Elder, elder_id)
        assert (elder.ability_grade, elder.ability_assessed_on) == ("severe", TODAY)
        row = s.get(Assessment, assessment_id)
        assert (row.total, row.preliminary_grade, row.final_grade, row.reason) == (
            46,
            2,
            3,
            "first",
        )
        assert "F03" not in row.detail_sealed and "B.1.1" not in row.detail_sealed  # sealed at rest
        assert row.next_due_on == service.add_months(TODAY, 12)
        detail = service.view_assessment(s, actor=agent(), assessment_id=assessment_id)
        assert detail.diagnoses == ["F03"] and detail.item_scores["B.2.4"] == 3
        assert [r.action for r in list_records(s, target_type="elder", target_id=str(elder_id))][
            :2
        ] == ["assessment.view", "assessment.record"]


def test_a_bad_form_writes_nothing(regions) -> None:
    with regions.session() as s:
        elder_id = make_elder(s).id
    bad = dict(FULL_MARKS)
    del bad["B.3.4"]
    bad["B.4.4"] = 4
    with pytest.raises(InvalidAssessmentForm) as err, regions.session() as s:
        service.record_assessment(
            s,
            actor=agent(),
            elder_id=elder_id,
            item_scores=bad,
            assessed_on=TODAY,
            reason="first",
            assessors=["王敏", "赵云"],
        )
    assert {p.field for p in err.value.problems} == {"B.3.4", "B.4.4"}
    for assessors in (["王敏"], ["王敏", "王敏"]):
        with pytest.raises(InvalidAssessmentForm) as err, regions.session() as s:
            service.record_assessment(
                s,
                actor=agent(),
                elder_id=elder_id,
                item_scores=FULL_MARKS,
                assessed_on=TODAY,
                reason="first",
                assessors=assessors,
            )
        assert err.value.problems[0].rule == "two_distinct_assessors"
    with regions.session() as s:
        assert s.scalar(select(func.count()).select_from(Assessment)) == 0
        assert s.get(Elder, elder_id).ability_grade is None


def test_another_leagues_agent_cannot_assess(regions) -> None:
    with regions.session() as s:
        elder_id = make_elder(s, region_code=BAOTOU_VILLAGE).id
    with pytest.raises(OutOfRegion), regions.session() as s:
        service.record_assessment(
            s,
            actor=agent("150100000000"),
            elder_id=elder_id,
            item_scores=FULL_MARKS,
            assessed_on=TODAY,
            reason="first",
            assessors=["王敏", "赵云"],
        )


def test_interval_is_per_league_configuration(regions) -> None:
    with regions.session() as s:
        set_policy(
            s,
            actor=officer(),
            cls=AssessmentPolicy,
            league_code="150200",
            values={"interval_months": 6},
        )
        hohhot = make_elder(s)
        baotou = make_elder(s, region_code=BAOTOU_VILLAGE)
        day = date(2024, 8, 31)
        a = service.record_assessment(
            s,
            actor=officer(),
            elder_id=hohhot.id,
            item_scores=FULL_MARKS,
            assessed_on=day,
            reason="routine",
            assessors=["王敏", "赵云"],
        )
        b = service.record_assessment(
            s,
            actor=officer(),
            elder_id=baotou.id,
            item_scores=FULL_MARKS,
            assessed_on=day,
            reason="routine",
            assessors=["王敏", "赵云"],
        )
        assert a.next_due_on == date(2025, 8, 31)  # settings default: 12 months
        assert b.next_due_on == date(2025, 2, 28)  # 包头: 6 months, clamped to February's end
    with pytest.raises(ValidationFailed) as err, regions.session() as s:
        set_policy(
            s,
            actor=officer(),
            cls=AssessmentPolicy,
            league_code="150200",
            values={"interval_monts": 6},
        )
    assert err.value.code == "invalid_care_policy"


def test_dispute_review_names_the_disputed_assessment_and_replaces_it(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s)
        first = service.record_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            item_scores=FULL_MARKS,
            assessed_on=TODAY - timedelta(days=10),
            reason="first",
            assessors=["王敏", "赵云"],
        )
        with pytest.raises(ValidationFailed) as err:
            service.record_assessment(
                s,
                actor=agent(),
                elder_id=elder.id,
                item_scores=MODERATE_46,
                assessed_on=TODAY,
                reason="dispute",
                assessors=["刘洋", "陈静"],
            )
        assert err.value.code == "dispute_needs_assessment"
        second = service.record_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            item_scores=MODERATE_46,
            assessed_on=TODAY,
            reason="复评",
            assessors=["刘洋", "陈静"],
            disputed_assessment_id=first.id,
        )
        assert service.current_assessment(s, elder_id=elder.id).id == second.id
        assert not first.is_current and elder.ability_grade == "moderate"
        assert [a.id for a in service.list_assessments(s, elder_id=elder.id)] == [
            second.id,
            first.id,
        ]


def test_legacy_record_keeps_its_label_and_is_due_after_six_months(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s)
        old = service.import_legacy_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            assessed_on=date(2023, 1, 15),
            grade="重度失能",
            assessors=["王敏", "赵云"],
            dimension_grades={"日常生活活动": 3, "精神状态": 2},
            source="2019 台账",
        )
        assert (old.standard, old.legacy_grade_label, old.final_grade) == (
            "MZ/T 039-2013",
            "重度失能",
            3,
        )
        assert old.next_due_on == date(2023, 7, 15)
        assert elder.ability_grade == "severe"
        status = service.status_for_elder(s, elder_id=elder.id, on=date(2023, 8, 1))
        assert (
            status["legacy"]
            and status["grade_label"] == "重度失能"
            and status["state"] == "overdue"
        )
        new = service.record_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            item_scores=MODERATE_46,
            assessed_on=date(2023, 9, 1),
            reason="routine",
            assessors=["王敏", "赵云"],
        )
        late = service.import_legacy_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            assessed_on=date(2022, 6, 1),
            grade=1,
            assessors=["王敏", "赵云"],
        )
        assert not late.is_current and service.current_assessment(s, elder_id=elder.id).id == new.id
        assert elder.ability_grade == "moderate"
        with pytest.raises(ValidationFailed):
            service.import_legacy_assessment(
                s,
                actor=agent(),
                elder_id=elder.id,
                assessed_on=date(2022, 6, 1),
                grade="完全失能",
                assessors=["王敏", "赵云"],
            )


def test_due_list_and_reminders_once(regions) -> None:
    seen = collect(regions)
    with regions.session() as s:
        due_soon = make_elder(s, name="甲")
        not_yet = make_elder(s, name="乙")
        baotou = make_elder(s, name="丙", region_code=BAOTOU_VILLAGE)
        for elder, months_ago in ((due_soon, 12), (not_yet, 6), (baotou, 13)):
            service.record_assessment(
                s,
                actor=officer(),
                elder_id=elder.id,
                item_scores=FULL_MARKS,
                assessed_on=service.add_months(TODAY, -months_ago) + timedelta(days=10),
                reason="routine",
                assessors=["王敏", "赵云"],
            )
        due = service.list_due_reassessments(s, region_code="150100000000", on=TODAY)
        assert [d.elder_id for d in due] == [due_soon.id] and not due[0].overdue
        everywhere = service.list_due_reassessments(s, region_code="150000000000", on=TODAY)
        assert {d.elder_id: d.overdue for d in everywhere} == {due_soon.id: False, baotou.id: True}
        ids = {due_soon.id, baotou.id}
    assert remind_due_reassessments("150000000000", TODAY.isoformat(), False) == 2
    assert remind_due_reassessments("150000000000", TODAY.isoformat(), False) == 0
    regions.event_bus.drain()
    reminders = [e for e in seen if e["type"] == "ReassessmentDue"]
    assert {e["data"]["elder_id"] for e in reminders} == ids and len(reminders) == 2


def test_printed_report_is_chinese_and_audited(regions) -> None:
    with regions.session() as s:
        elder = make_elder(s, name="巴特尔")
        row = service.record_assessment(
            s,
            actor=agent(),
            elder_id=elder.id,
            item_scores=MODERATE_46,
            assessed_on=TODAY,
            reason="first",
            assessors=["王敏", "赵云"],
            risk_events=2,
        )
        pdf = render_report(s, actor=agent(), assessment_id=row.id)
        actions = [r.action for r in list_records(s, target_type="elder", target_id=str(elder.id))]
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (
        "老年人能力评估报告",
        "巴特尔",
        "上下楼梯",
        "46/90",
        "中度失能",
        "重度失能",
        "王敏、赵云",
    ):
        assert expected in text, expected
    assert "assessment.export" in actions
