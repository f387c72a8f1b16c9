"""Scoring one GB/T 42195-2022 form: validate the 26 items, total the dimensions, band the
grade and apply the standard's adjustments.

Do the adjustments stack? No. The standard words both the diagnosis rule and the risk-event rule
as "在原有能力级别上提高一个等级": one grade worse than the *preliminary* grade, the one the score
gives. Applied to the same base they give the same answer, so an elder with dementia *and* two
falls ends one grade worse, not two. The two facts are also largely one deficit seen twice
(dementia is what makes an elder wander and fall), and the B.3 items already score it, so
counting it a third time would push mildly impaired elders straight to 重度. Coma overrides
everything: it is 完全失能 whatever the score or the other rules say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from platform_core.assessment.standard import (
    DIMENSIONS,
    ITEMS,
    ITEMS_BY_CODE,
    RISK_EVENT_KINDS,
    RISK_EVENT_THRESHOLD,
    RISK_EVENT_WINDOW_DAYS,
    AbilityGrade,
    find_item,
    grade_for_total,
)
from platform_core.errors import ValidationFailed


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a form: which item or field, which rule, in words."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class InvalidAssessmentForm(ValidationFailed):
    code = "invalid_assessment_form"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        text = "; ".join(p.message for p in problems)
        super().__init__(
            f"评估表有误 / invalid assessment form: {text}",
            problems=[p.as_dict() for p in problems],
        )


@dataclass(frozen=True)
class Adjustment:
    rule: str  # coma, dementia, mental_disorder, care_risk_events
    reason: str
    applied: bool

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "reason": self.reason, "applied": self.applied}


@dataclass(frozen=True)
class ScoreResult:
    item_scores: dict[str, int]
    dimension_totals: dict[str, int]
    total: int
    preliminary_grade: AbilityGrade
    final_grade: AbilityGrade
    adjustments: tuple[Adjustment, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_scores": dict(self.item_scores),
            "dimension_totals": dict(self.dimension_totals),
            "total": self.total,
            "preliminary_grade": {
                "level": int(self.preliminary_grade),
                "label": self.preliminary_grade.label,
            },
            "final_grade": {"level": int(self.final_grade), "label": self.final_grade.label},
            "adjustments": [a.as_dict() for a in self.adjustments],
        }


@dataclass(frozen=True)
class RiskEvent:
    kind: str
    on: date


@dataclass(frozen=True)
class AdjustmentFacts:
    """What the adjustment rules look at besides the items."""

    coma: bool = False
    diagnoses: tuple[str, ...] = ()
    risk_events_30d: int = 0


# --- items ---------------------------------------------------------------------------------


def _as_score(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def validate_items(raw: Mapping[str, Any]) -> tuple[dict[str, int], list[Problem]]:
    """Map the form's keys (codes or names) to codes and check each score against its item."""
    scores: dict[str, int] = {}
    problems: list[Problem] = []
    for key, value in raw.items():
        item = find_item(str(key))
        if item is None:
            problems.append(
                Problem(
                    str(key),
                    "unknown_item",
                    f"{key}: 不是 GB/T 42195-2022 的评估项 / not an item of the standard",
                )
            )
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # reported below as missing
        score = _as_score(value)
        if score is None:
            problems.append(
                Problem(
                    item.code,
                    "not_integer",
                    f"{item.title}: 得分 {value!r} 不是整数 / score must be a whole number",
                )
            )
            continue
        if not 0 <= score <= item.max_score:
            problems.append(
                Problem(
                    item.code,
                    "out_of_range",
                    f"{item.title}: 得分 {score} 超出 0-{item.max_score} / score {score} outside 0-{item.max_score}",
                )
            )
            continue
        if item.code in scores and scores[item.code] != score:
            problems.append(
                Problem(
                    item.code,
                    "conflicting",
                    f"{item.title}: 同一项填写了两个不同得分 {scores[item.code]} 和 {score} / two different scores",
                )
            )
            continue
        scores[item.code] = score
    named = {p.field for p in problems}
    for item in ITEMS:
        if item.code not in scores and item.code not in named:
            problems.append(
                Problem(
                    item.code,
                    "missing",
                    f"{item.title}: 缺少得分 (0-{item.max_score}) / score missing",
                )
            )
    return {i.code: scores[i.code] for i in ITEMS if i.code in scores}, problems


# --- adjustment facts ------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "y", "是", "有", "昏迷"}
_FALSE = {"", "0", "false", "no", "n", "否", "无"}
_ICD_RE = re.compile(r"^[A-Z]\d{2}(\.\d{1,2})?$")


def parse_flag(value: Any, name: str, problems: list[Problem]) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.append(
        Problem(name, "not_boolean", f"{name}: {value!r} 应为 是/否 / must be yes or no")
    )
    return False


def parse_diagnoses(value: Any, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    parts: Iterable[Any] = (
        value if isinstance(value, list | tuple) else re.split(r"[,;，；、\s]+", str(value))
    )
    codes: list[str] = []
    for part in parts:
        code = str(part).strip().upper()
        if not code:
            continue
        if not _ICD_RE.match(code):
            problems.append(
                Problem(
                    "diagnoses",
                    "invalid_icd10",
                    f"诊断 {part!r} 不是 ICD-10 编码 (如 F03) / not an ICD-10 code",
                )
            )
            continue
        codes.append(code)
    return tuple(codes)


def parse_risk_events(value: Any, assessed_on: date | None, problems: list[Problem]) -> int:
    """A count, or a list of ``{"kind", "on"}`` counted over the 30 days up to the assessment."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, list):
        if assessed_on is None:
            problems.append(
                Problem(
                    "risk_events",
                    "needs_date",
                    "照护风险事件列表需要评估日期 / a list of events needs the assessment date",
                )
            )
            return 0
        count = 0
        for ev in value:
            kind = str(ev.get("kind", "other")) if isinstance(ev, Mapping) else ""
            try:
                on = (
                    date.fromisoformat(str(ev.get("on") or ev.get("date")))
                    if isinstance(ev, Mapping)
                    else None
                )
            except ValueError:
                on = None
            if on is None or kind not in RISK_EVENT_KINDS:
                problems.append(
                    Problem(
                        "risk_events",
                        "invalid_event",
                        f"照护风险事件 {ev!r} 需要 kind ({'/'.join(RISK_EVENT_KINDS)}) 和日期 / needs a kind and a date",
                    )
                )
                continue
            age = (assessed_on - on).days
            if age < 0:
                problems.append(
                    Problem(
                        "risk_events",
                        "future_event",
                        f"照护风险事件日期 {on} 晚于评估日期 / after the assessment date",
                    )
                )
            elif age < RISK_EVENT_WINDOW_DAYS:
                count += 1
        return count
    n = _as_score(value)
    if n is None or n < 0:
        problems.append(
            Problem(
                "risk_events",
                "not_count",
                f"近30天照护风险事件次数 {value!r} 应为非负整数 / must be a count",
            )
        )
        return 0
    return n


# --- the grade -------------------------------------------------------------------------------


def is_dementia(code: str) -> bool:
    return code[0] == "F" and 0 <= int(code[1:3]) <= 3


def is_other_mental_disorder(code: str) -> bool:
    return code[0] == "F" and 4 <= int(code[1:3]) <= 99


def adjust(
    preliminary: AbilityGrade, facts: AdjustmentFacts
) -> tuple[AbilityGrade, tuple[Adjustment, ...]]:
    """The final grade and every rule that fired (non-stacking: see the module docstring)."""
    fired: list[Adjustment] = []
    dementia = [c for c in facts.diagnoses if is_dementia(c)]
    mental = [c for c in facts.diagnoses if is_other_mental_disorder(c)]
    if facts.coma:
        fired.append(
            Adjustment("coma", "昏迷, 直接评定为完全失能 / coma: complete disability", True)
        )
    if dementia:
        fired.append(
            Adjustment(
                "dementia",
                f"确诊痴呆 ({', '.join(dementia)}), 提高一个等级 / diagnosed dementia: one grade worse",
                False,
            )
        )
    elif mental:
        fired.append(
            Adjustment(
                "mental_disorder",
                f"确诊精神障碍 ({', '.join(mental)}), 提高一个等级 / mental disorder: one grade worse",
                False,
            )
        )
    if facts.risk_events_30d >= RISK_EVENT_THRESHOLD:
        fired.append(
            Adjustment(
                "care_risk_events",
                f"近{RISK_EVENT_WINDOW_DAYS}天发生 {facts.risk_events_30d} 次照护风险事件, 提高一个等级 / care-risk events: one grade worse",
                False,
            )
        )
    if facts.coma:
        final = AbilityGrade.COMPLETE
        return final, tuple(fired)
    if len(fired) == 0:
        return preliminary, ()
    final = preliminary.worse(1)
    # Only the first one-grade rule moves the grade; the others are recorded as considered.
    out = [
        Adjustment(a.rule, a.reason, i == 0 and final != preliminary) for i, a in enumerate(fired)
    ]
    return final, tuple(out)


def score_items(
    item_scores: Mapping[str, int], facts: AdjustmentFacts | None = None
) -> ScoreResult:
    """Score validated items (codes -> scores); raises InvalidAssessmentForm on any problem."""
    scores, problems = validate_items(item_scores)
    if problems:
        raise InvalidAssessmentForm(problems)
    dims = {d.code: sum(scores[i.code] for i in d.items) for d in DIMENSIONS}
    total = sum(dims.values())
    preliminary = grade_for_total(total)
    final, adjustments = adjust(preliminary, facts or AdjustmentFacts())
    return ScoreResult(scores, dims, total, preliminary, final, adjustments)


def item_label(code: str, score: int) -> str:
    return ITEMS_BY_CODE[code].options.get(score, "")
