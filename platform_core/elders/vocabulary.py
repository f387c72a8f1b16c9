"""The closed vocabularies of the elder profile: codes stored, Chinese labels shown."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class ElderStatus(StrEnum):
    ACTIVE = "active"
    MOVED = "moved"
    DECEASED = "deceased"


class LivingArrangement(StrEnum):
    ALONE = "alone"  # 独居
    EMPTY_NEST = "empty_nest"  # 空巢
    WITH_FAMILY = "with_family"  # 与家人同住


class IvrLanguage(StrEnum):
    MANDARIN = "zh"
    MONGOLIAN = "mn"


class RiskLevel(StrEnum):
    NORMAL = "normal"
    HIGH = "high"


class PhoneUse(StrEnum):
    HOME = "home"
    MOBILE = "mobile"


class Category(StrEnum):
    """Categories that drive subsidies (DOMAIN.md section 4)."""

    EXTREME_HARDSHIP = "extreme_hardship"  # 特困 (subtype 三无 / 五保)
    SUBSISTENCE = "subsistence"  # 低保
    NEAR_SUBSISTENCE = "near_subsistence"  # 低保边缘
    POOR_DISABLED = "poor_disabled"  # 经济困难失能
    POOR_SEMI_DISABLED = "poor_semi_disabled"  # 经济困难半失能
    ADVANCED_AGE = "advanced_age"  # 高龄
    CENTENARIAN = "centenarian"  # 百岁
    FAMILY_PLANNING = "family_planning"  # 计生特扶
    DISABILITY = "disability"  # 残疾 (type and grade)
    BEREAVED_PARENT = "bereaved_parent"  # 失独
    ENTITLED = "entitled"  # 优抚对象


# The categories of economic hardship (特困, 低保, 低保边缘, 经济困难失能/半失能): every care
# programme's eligibility starts from them.
HARDSHIP_CATEGORIES: tuple[str, ...] = (
    Category.EXTREME_HARDSHIP.value,
    Category.SUBSISTENCE.value,
    Category.NEAR_SUBSISTENCE.value,
    Category.POOR_DISABLED.value,
    Category.POOR_SEMI_DISABLED.value,
)

SEX_LABELS = {Sex.MALE: "男", Sex.FEMALE: "女"}
STATUS_LABELS = {
    ElderStatus.ACTIVE: "在册",
    ElderStatus.MOVED: "已迁出",
    ElderStatus.DECEASED: "已故",
}
LIVING_LABELS = {
    LivingArrangement.ALONE: "独居",
    LivingArrangement.EMPTY_NEST: "空巢",
    LivingArrangement.WITH_FAMILY: "与家人同住",
}
LANGUAGE_LABELS = {IvrLanguage.MANDARIN: "普通话", IvrLanguage.MONGOLIAN: "蒙古语"}
RISK_LABELS = {RiskLevel.NORMAL: "一般", RiskLevel.HIGH: "高风险"}
PHONE_USE_LABELS = {PhoneUse.HOME: "家庭电话", PhoneUse.MOBILE: "手机"}

CATEGORY_LABELS = {
    Category.EXTREME_HARDSHIP: "特困",
    Category.SUBSISTENCE: "低保",
    Category.NEAR_SUBSISTENCE: "低保边缘",
    Category.POOR_DISABLED: "经济困难失能",
    Category.POOR_SEMI_DISABLED: "经济困难半失能",
    Category.ADVANCED_AGE: "高龄",
    Category.CENTENARIAN: "百岁",
    Category.FAMILY_PLANNING: "计生特扶",
    Category.DISABILITY: "残疾",
    Category.BEREAVED_PARENT: "失独",
    Category.ENTITLED: "优抚",
}

# Subtypes each category accepts (None: no subtype).
CATEGORY_SUBTYPES: dict[Category, dict[str, str] | None] = {
    Category.EXTREME_HARDSHIP: {"sanwu": "三无", "wubao": "五保"},
    Category.DISABILITY: {
        "visual": "视力残疾",
        "hearing": "听力残疾",
        "speech": "言语残疾",
        "physical": "肢体残疾",
        "intellectual": "智力残疾",
        "mental": "精神残疾",
        "multiple": "多重残疾",
    },
}
# 残疾 grades run from 1 (most severe) to 4.
DISABILITY_GRADES = (1, 2, 3, 4)

RISK_FLAG_LABELS = {
    "high_risk": "高风险",
    "lives_alone": "独居",
    "empty_nest": "空巢",
    "very_old": "高龄",
    "centenarian": "百岁",
    "disabled": "残疾",
    "impaired": "失能/半失能",
    "chronic_illness": "慢性病",
    "allergy": "过敏史",
    "no_contact": "无紧急联系人",
    "no_key_holder": "无人持有钥匙",
    "stairs_no_elevator": "高楼层无电梯",
}


def category_label(category: str, subtype: str | None = None, grade: int | None = None) -> str:
    """``特困(五保)``, ``残疾(肢体残疾2级)``, ``低保``."""
    cat = Category(category)
    subtypes = CATEGORY_SUBTYPES.get(cat) or {}
    detail = subtypes.get(subtype or "", "") + (f"{grade}级" if grade else "")
    return CATEGORY_LABELS[cat] + (f"({detail})" if detail else "")


# 能力等级 of GB/T 42195-2022 (platform_core.assessment.standard grades a record into one);
# the elder's record stores the English key.
class AbilityGrade(IntEnum):
    """能力等级, ordered from best to worst so that "one grade worse" is ``+ 1``."""

    INTACT = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3
    COMPLETE = 4

    @property
    def label(self) -> str:
        return GRADE_LABELS[self]

    def worse(self, steps: int = 1) -> AbilityGrade:
        return AbilityGrade(min(self + steps, AbilityGrade.COMPLETE))


GRADE_LABELS = {
    AbilityGrade.INTACT: "能力完好",
    AbilityGrade.MILD: "轻度失能",
    AbilityGrade.MODERATE: "中度失能",
    AbilityGrade.SEVERE: "重度失能",
    AbilityGrade.COMPLETE: "完全失能",
}
GRADE_ENGLISH = {
    AbilityGrade.INTACT: "intact",
    AbilityGrade.MILD: "mild",
    AbilityGrade.MODERATE: "moderate",
    AbilityGrade.SEVERE: "severe",
    AbilityGrade.COMPLETE: "complete",
}
