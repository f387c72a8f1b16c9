"""Records made under the older MZ/T 039-2013 老年人能力评估.

That standard rated four dimensions (日常生活活动, 精神状态, 感知觉与沟通, 社会参与) 0-3 each and
combined them into four grades: 0 能力完好, 1 轻度失能, 2 中度失能, 3 重度失能. Its item set and
scores cannot be re-scored on the 26 items of GB/T 42195-2022, so a legacy record keeps its own
grade label and is *mapped by name* onto the new scale for eligibility: 0->能力完好, 1->轻度,
2->中度, 3->重度. Old 重度 spans today's 重度 and 完全失能; mapping it to 重度 (never to 完全)
grants nothing the old record did not prove, and the elder is due for a GB/T 42195-2022
assessment after the legacy 6-month interval, which settles the rest.
"""

from __future__ import annotations

from platform_core.assessment.standard import AbilityGrade

LEGACY_STANDARD = "MZ/T 039-2013"
LEGACY_GRADES = {0: "能力完好", 1: "轻度失能", 2: "中度失能", 3: "重度失能"}
LEGACY_DIMENSIONS = ("日常生活活动", "精神状态", "感知觉与沟通", "社会参与")
TO_CURRENT = {
    0: AbilityGrade.INTACT,
    1: AbilityGrade.MILD,
    2: AbilityGrade.MODERATE,
    3: AbilityGrade.SEVERE,
}


def parse_legacy_grade(raw: str | int) -> int | None:
    text = str(raw).strip()
    if text.isdigit() and int(text) in LEGACY_GRADES:
        return int(text)
    for level, label in LEGACY_GRADES.items():
        if text == label:
            return level
    return None
