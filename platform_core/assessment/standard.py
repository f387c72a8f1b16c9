"""The item table of GB/T 42195-2022 老年人能力评估规范 (26 items, total 90) and its grade bands.

These are facts of the national standard, the same in every 盟市; what differs between cities
(the re-assessment interval, what a grade entitles to) is configuration, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The grades themselves are the elder's record's vocabulary (elders store the English key);
# the standard's bands and items map onto them.
from platform_core.elders.vocabulary import GRADE_ENGLISH, GRADE_LABELS, AbilityGrade

STANDARD_CODE = "GB/T 42195-2022"


# (lowest total, grade), best band first: 90 能力完好; 66-89 轻度; 46-65 中度; 30-45 重度; 0-29 完全.
GRADE_BANDS: tuple[tuple[int, AbilityGrade], ...] = (
    (90, AbilityGrade.INTACT),
    (66, AbilityGrade.MILD),
    (46, AbilityGrade.MODERATE),
    (30, AbilityGrade.SEVERE),
    (0, AbilityGrade.COMPLETE),
)


def grade_for_total(total: int) -> AbilityGrade:
    if not 0 <= total <= TOTAL_MAX:
        raise ValueError(f"total {total} outside 0-{TOTAL_MAX}")
    for lowest, grade in GRADE_BANDS:
        if total >= lowest:
            return grade
    raise AssertionError("unreachable: the last band starts at 0")


def parse_grade(raw: str | int | AbilityGrade) -> AbilityGrade:
    """A grade from its number (0-4), Chinese label or English name."""
    if isinstance(raw, AbilityGrade):
        return raw
    text = str(raw).strip()
    if text.isdigit() and int(text) in AbilityGrade._value2member_map_:
        return AbilityGrade(int(text))
    for grade in AbilityGrade:
        if text in (GRADE_LABELS[grade], GRADE_ENGLISH[grade], grade.name.lower()):
            return grade
    raise ValueError(f"unknown ability grade {raw!r}")


_FOUR_LEVELS = {
    4: "独立完成",
    3: "在他人指导或提示下完成",
    2: "需要他人协助, 但以自身完成为主",
    1: "主要依靠他人协助",
    0: "完全依赖他人",
}


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    dimension: str
    options: dict[int, str]

    @property
    def max_score(self) -> int:
        return max(self.options)

    @property
    def title(self) -> str:
        return f"{self.code} {self.name}"


@dataclass(frozen=True)
class Dimension:
    code: str
    name: str

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for i in ITEMS if i.dimension == self.code)

    @property
    def max_score(self) -> int:
        return sum(i.max_score for i in self.items)


DIMENSIONS = (
    Dimension("B.1", "自理能力"),
    Dimension("B.2", "基础运动能力"),
    Dimension("B.3", "精神状态"),
    Dimension("B.4", "感知觉与社会参与"),
)


def _four(code: str, name: str) -> Item:
    return Item(code, name, code[:3], dict(_FOUR_LEVELS))


ITEMS: tuple[Item, ...] = (
    _four("B.1.1", "进食"),
    _four("B.1.2", "修饰"),
    _four("B.1.3", "洗澡"),
    _four("B.1.4", "穿/脱上衣"),
    _four("B.1.5", "穿/脱裤子和鞋袜"),
    _four("B.1.6", "小便控制"),
    _four("B.1.7", "大便控制"),
    _four("B.1.8", "如厕"),
    _four("B.2.1", "床上体位转移"),
    _four("B.2.2", "床椅转移"),
    _four("B.2.3", "平地行走"),
    Item(
        "B.2.4",
        "上下楼梯",
        "B.2",
        {
            3: "可独立上下楼梯",
            2: "在他人指导或提示下完成",
            1: "需要他人协助, 但以自身完成为主",
            0: "主要依靠他人协助或完全依赖他人",
        },
    ),
    _four("B.3.1", "时间定向"),
    _four("B.3.2", "空间定向"),
    _four("B.3.3", "人物定向"),
    _four("B.3.4", "记忆"),
    _four("B.3.5", "理解能力"),
    _four("B.3.6", "表达能力"),
    Item("B.3.7", "攻击行为", "B.3", {1: "未出现", 0: "近一个月内出现过攻击行为"}),
    Item("B.3.8", "抑郁症状", "B.3", {1: "未出现", 0: "近一个月内出现过负性情绪"}),
    Item("B.3.9", "意识水平", "B.3", {2: "神志清醒", 1: "嗜睡或意识模糊", 0: "昏睡或昏迷"}),
    Item(
        "B.4.1",
        "视力",
        "B.4",
        {2: "视力正常", 1: "能看清大字体, 看不清书报标准字体", 0: "只能辨认光线或完全失明"},
    ),
    Item("B.4.2", "听力", "B.4", {2: "听力正常", 1: "需大声说话或近距离才能听清", 0: "完全听不见"}),
    _four("B.4.3", "执行日常事务"),
    Item(
        "B.4.4",
        "使用交通工具外出",
        "B.4",
        {
            3: "能自己骑车或搭乘公共交通工具外出",
            2: "能自己搭乘出租车, 不会搭乘其他公共交通工具",
            1: "有人协助或陪伴时可搭乘公共交通工具外出",
            0: "只能在他人协助下搭乘出租车或私家车外出, 或完全不能出门",
        },
    ),
    _four("B.4.5", "社会交往能力"),
)

TOTAL_MAX = sum(i.max_score for i in ITEMS)
ITEMS_BY_CODE = {i.code: i for i in ITEMS}


def _name_key(name: str) -> str:
    # Paper forms write 穿/脱上衣 as 穿脱上衣, 穿（脱）上衣 or with spaces: compare without them.
    return re.sub(r"[\s/／()（）、·]", "", name)


_ITEMS_BY_NAME = {_name_key(i.name): i for i in ITEMS}
_CODE_RE = re.compile(r"^\s*[Bb]\s*\.?\s*(\d)\s*\.\s*(\d)\s*$")


def find_item(key: str) -> Item | None:
    """The item a form names by code (``B.1.1``, ``b1.1``) or by name (``进食``, ``穿脱上衣``)."""
    m = _CODE_RE.match(key)
    if m:
        return ITEMS_BY_CODE.get(f"B.{m.group(1)}.{m.group(2)}")
    return _ITEMS_BY_NAME.get(_name_key(key))


def looks_like_item_code(key: str) -> bool:
    return bool(_CODE_RE.match(key))


# Adjustment thresholds written in the standard itself (not city policy).
RISK_EVENT_THRESHOLD = 2
RISK_EVENT_WINDOW_DAYS = 30
RISK_EVENT_KINDS = {
    "fall": "跌倒",
    "wandering": "走失",
    "choking": "噎食",
    "self_harm": "自伤/自杀",
    "other": "其他",
}

# 评估原因 as the standard lists them; forms may give the key or the Chinese label.
REASONS = {
    "first": "首次评估",
    "routine": "常规评估",
    "immediate": "即时评估",
    "dispute": "因评估结果有疑问进行的复评",
    "other": "其他",
}
_REASON_ALIASES = {
    "首次": "first",
    "常规": "routine",
    "即时": "immediate",
    "复评": "dispute",
    "争议复评": "dispute",
}


def parse_reason(raw: str) -> str | None:
    text = str(raw).strip()
    if text in REASONS:
        return text
    for key, label in REASONS.items():
        if text == label:
            return key
    return _REASON_ALIASES.get(text)
