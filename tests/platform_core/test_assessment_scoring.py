"""GB/T 42195-2022 scoring against hand-computed forms at every grade boundary."""

from __future__ import annotations

from datetime import date

import pytest

from platform_core.assessment.forms import parse_record, score_form
from platform_core.assessment.scoring import AdjustmentFacts, InvalidAssessmentForm, score_items
from platform_core.assessment.standard import AbilityGrade

# The maxima as DOMAIN.md section 5 prints them, written out independently of the code.
MAXIMA = {
    "B.1.1": 4,
    "B.1.2": 4,
    "B.1.3": 4,
    "B.1.4": 4,
    "B.1.5": 4,
    "B.1.6": 4,
    "B.1.7": 4,
    "B.1.8": 4,
    "B.2.1": 4,
    "B.2.2": 4,
    "B.2.3": 4,
    "B.2.4": 3,
    "B.3.1": 4,
    "B.3.2": 4,
    "B.3.3": 4,
    "B.3.4": 4,
    "B.3.5": 4,
    "B.3.6": 4,
    "B.3.7": 1,
    "B.3.8": 1,
    "B.3.9": 2,
    "B.4.1": 2,
    "B.4.2": 2,
    "B.4.3": 4,
    "B.4.4": 3,
    "B.4.5": 4,
}
B1 = [f"B.1.{i}" for i in range(1, 9)]
B2 = [f"B.2.{i}" for i in range(1, 5)]


def form(**changes: int) -> dict[str, int]:
    """Full marks with some items lowered; keys written B_1_1 for B.1.1."""
    out = dict(MAXIMA)
    for key, value in changes.items():
        out[key.replace("_", ".")] = value
    return out


def zero(codes: list[str]) -> dict[str, int]:
    return {c.replace(".", "_"): 0 for c in codes}


def test_full_marks_are_90_and_intact() -> None:
    r = score_items(form())
    assert r.dimension_totals == {"B.1": 32, "B.2": 15, "B.3": 28, "B.4": 15}
    assert r.total == 90
    assert r.preliminary_grade == r.final_grade == AbilityGrade.INTACT
    assert r.final_grade.label == "能力完好"


@pytest.mark.parametrize(
    "changes, total, grade",
    [
        ({"B_1_1": 3}, 89, "轻度失能"),  # 90 - 1
        (zero(B1[:6]), 66, "轻度失能"),  # 90 - 6*4
        ({**zero(B1[:6]), "B_1_7": 3}, 65, "中度失能"),  # 90 - 24 - 1
        ({**zero(B1), **zero(B2[:3])}, 46, "中度失能"),  # 90 - 32 - 12
        ({**zero(B1), **zero(B2[:3]), "B_2_4": 2}, 45, "重度失能"),  # 90 - 32 - 12 - 1
        (
            {**zero(B1), **zero(B2), **zero(["B.3.1", "B.3.2", "B.3.3"]), "B_3_4": 3},
            30,
            "重度失能",
        ),  # 90-32-15-12-1
        (
            {**zero(B1), **zero(B2), **zero(["B.3.1", "B.3.2", "B.3.3"]), "B_3_4": 2},
            29,
            "完全失能",
        ),  # 90-32-15-12-2
    ],
)
def test_grade_boundaries(changes: dict[str, int], total: int, grade: str) -> None:
    r = score_items(form(**changes))
    assert r.total == total
    assert r.preliminary_grade.label == grade
    assert r.final_grade == r.preliminary_grade
    assert r.adjustments == ()


def test_all_zero_is_complete_disability_with_dimension_totals() -> None:
    r = score_items({c: 0 for c in MAXIMA})
    assert r.total == 0 and r.dimension_totals == {"B.1": 0, "B.2": 0, "B.3": 0, "B.4": 0}
    assert r.final_grade.label == "完全失能"


def test_coma_is_complete_disability_whatever_the_score() -> None:
    r = score_items(form(), AdjustmentFacts(coma=True))
    assert r.total == 90 and r.preliminary_grade.label == "能力完好"
    assert r.final_grade.label == "完全失能"
    assert [a.rule for a in r.adjustments if a.applied] == ["coma"]


def test_dementia_makes_89_one_grade_worse() -> None:
    r = score_items(form(B_1_1=3), AdjustmentFacts(diagnoses=("F03",)))
    assert (r.preliminary_grade.label, r.final_grade.label) == ("轻度失能", "中度失能")
    assert r.adjustments[0].rule == "dementia" and r.adjustments[0].applied


def test_other_mental_disorder_makes_65_one_grade_worse() -> None:
    r = score_items(form(**zero(B1[:6]), B_1_7=3), AdjustmentFacts(diagnoses=("F32.1",)))
    assert (r.total, r.preliminary_grade.label, r.final_grade.label) == (65, "中度失能", "重度失能")
    assert r.adjustments[0].rule == "mental_disorder"


def test_a_non_mental_diagnosis_changes_nothing() -> None:
    r = score_items(form(B_1_1=3), AdjustmentFacts(diagnoses=("I63.9", "E11")))
    assert r.final_grade.label == "轻度失能" and r.adjustments == ()


def test_two_risk_events_make_46_one_grade_worse_but_one_does_not() -> None:
    at_46 = form(**zero(B1), **zero(B2[:3]))
    assert score_items(at_46, AdjustmentFacts(risk_events_30d=1)).final_grade.label == "中度失能"
    r = score_items(at_46, AdjustmentFacts(risk_events_30d=2))
    assert (r.preliminary_grade.label, r.final_grade.label) == ("中度失能", "重度失能")
    assert r.adjustments[0].rule == "care_risk_events"


def test_adjustments_do_not_stack() -> None:
    # 66 is 轻度; dementia and two falls together still make it one grade worse: 中度.
    r = score_items(form(**zero(B1[:6])), AdjustmentFacts(diagnoses=("F00",), risk_events_30d=3))
    assert (r.total, r.final_grade.label) == (66, "中度失能")
    assert [(a.rule, a.applied) for a in r.adjustments] == [
        ("dementia", True),
        ("care_risk_events", False),
    ]


def test_worse_than_complete_is_still_complete() -> None:
    r = score_items({c: 0 for c in MAXIMA}, AdjustmentFacts(diagnoses=("F01",)))
    assert r.final_grade == AbilityGrade.COMPLETE


def test_risk_events_counted_within_the_30_days_before_the_assessment() -> None:
    record = {
        **form(**zero(B1), **zero(B2[:3])),  # 46, 中度
        "assessed_on": "2024-06-30",
        "risk_events": [
            {"kind": "fall", "on": "2024-06-20"},
            {"kind": "wandering", "on": "2024-05-31"},  # 30 days before: outside the window
        ],
    }
    outcome = score_form(parse_record(record, 1))
    assert outcome.result is not None and outcome.result.final_grade.label == "中度失能"
    record["risk_events"].append({"kind": "choking", "on": "2024-06-01"})  # 29 days before
    outcome = score_form(parse_record(record, 1))
    assert outcome.result is not None and outcome.result.final_grade.label == "重度失能"


def test_items_by_name_score_like_items_by_code() -> None:
    by_code = score_items(form(B_1_4=2, B_4_4=1))
    names = {
        "进食": 4,
        "修饰": 4,
        "洗澡": 4,
        "穿脱上衣": 2,
        "穿/脱裤子和鞋袜": 4,
        "小便控制": 4,
        "大便控制": 4,
        "如厕": 4,
        "床上体位转移": 4,
        "床椅转移": 4,
        "平地行走": 4,
        "上下楼梯": 3,
        "时间定向": 4,
        "空间定向": 4,
        "人物定向": 4,
        "记忆": 4,
        "理解能力": 4,
        "表达能力": 4,
        "攻击行为": 1,
        "抑郁症状": 1,
        "意识水平": 2,
        "视力": 2,
        "听力": 2,
        "执行日常事务": 4,
        "使用交通工具外出": 1,
        "社会交往能力": 4,
    }
    by_name = score_items(names)
    assert by_name == by_code and by_name.total == 90 - 2 - 2


@pytest.mark.parametrize(
    "code, bad",
    [
        ("B.2.4", 4),
        ("B.3.7", 2),
        ("B.3.8", 2),
        ("B.3.9", 3),
        ("B.4.1", 3),
        ("B.4.2", 3),
        ("B.4.4", 4),
        ("B.1.1", 5),
        ("B.1.1", -1),
    ],
)
def test_out_of_range_names_the_item_and_its_range(code: str, bad: int) -> None:
    with pytest.raises(InvalidAssessmentForm) as err:
        score_items({**MAXIMA, code: bad})
    (problem,) = err.value.problems
    assert problem.field == code and problem.rule == "out_of_range"
    assert f"0-{MAXIMA[code]}" in problem.message
    assert err.value.code == "invalid_assessment_form"


def test_every_problem_of_a_form_is_reported_together() -> None:
    items = dict(MAXIMA)
    del items["B.4.5"]
    items["B.1.2"] = "三"  # type: ignore[assignment]
    record = {
        **items,
        "诊断": "F3",
        "assessors": ["王敏", "王敏"],
        "进食": 3,
    }  # 进食 also given as B.1.1 = 4
    outcome = score_form(parse_record(record, 7))
    assert not outcome.ok
    rules = {(p.field, p.rule) for p in outcome.problems}
    assert rules == {
        ("B.4.5", "missing"),
        ("B.1.2", "not_integer"),
        ("diagnoses", "invalid_icd10"),
        ("assessors", "two_distinct_assessors"),
        ("B.1.1", "conflicting"),
    }


def test_unknown_item_code_is_refused() -> None:
    with pytest.raises(InvalidAssessmentForm) as err:
        score_items({**MAXIMA, "B.5.1": 2})
    assert [p.rule for p in err.value.problems] == ["unknown_item"]


def test_form_fields_in_chinese() -> None:
    record = {
        **MAXIMA,
        "编号": "P-9",
        "评估日期": "2024-03-01",
        "评估原因": "首次评估",
        "评估员1": "王敏",
        "评估员2": "赵云",
        "昏迷": "否",
        "近30天照护风险事件": "0",
    }
    f = parse_record(record, 1)
    assert (f.form_id, f.assessed_on, f.reason, f.assessors) == (
        "P-9",
        date(2024, 3, 1),
        "first",
        ("王敏", "赵云"),
    )
    assert score_form(f).ok
