"""Pure rules of the 12-digit region code (GB/T 2260 county + 3-digit township + 3-digit village).

Levels: 1 自治区/省, 2 盟市, 3 旗县区, 4 苏木乡镇街道, 5 嘎查村社区. Because the code is
hierarchical, "this region and everything below it" is a prefix match on the code.
"""

from __future__ import annotations

from platform_core.errors import ValidationFailed

LEVEL_NAMES = {1: "自治区", 2: "盟市", 3: "旗县区", 4: "苏木乡镇街道", 5: "嘎查村社区"}
_PREFIX_LEN = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}


class InvalidRegionCode(ValidationFailed):
    code = "invalid_region_code"


def normalize_code(raw: str | int) -> str:
    """Accept 2/4/6/9/12-digit forms and return the 12-digit code, or raise with the reason."""
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()):
        raise InvalidRegionCode(f"区划代码只能包含数字: {text!r} / region code must be digits")
    if len(text) not in (2, 4, 6, 9, 12):
        raise InvalidRegionCode(
            f"区划代码长度应为 6、9 或 12 位: {text!r} / region code must have 6, 9 or 12 digits"
        )
    code = text.ljust(12, "0")
    if code[:2] == "00":
        raise InvalidRegionCode(f"省级代码不能为 00: {text!r} / province segment cannot be 00")
    township, village = int(code[6:9]), int(code[9:12])
    if village and not township:
        raise InvalidRegionCode(f"村级代码缺少乡镇段: {text!r} / village code without a township")
    if township >= 600:
        raise InvalidRegionCode(
            f"乡镇段 {code[6:9]} 超出 001-599 范围: {text!r} / township segment outside 001-599"
        )
    return code


def level_of(code: str) -> int:
    if code[2:] == "0" * 10:
        return 1
    if code[4:] == "0" * 8:
        return 2
    if code[6:] == "0" * 6:
        return 3
    if code[9:] == "000":
        return 4
    return 5


def prefix_of(code: str) -> str:
    """The significant prefix: every descendant's code starts with it."""
    return code[: _PREFIX_LEN[level_of(code)]]


def scope_prefix(raw: str | int) -> str:
    """The prefix every code within the region ``raw`` (in any accepted form) starts with."""
    return prefix_of(normalize_code(raw))


def parent_of(code: str) -> str | None:
    level = level_of(code)
    if level == 1:
        return None
    return code[: _PREFIX_LEN[level - 1]].ljust(12, "0")


def is_within(code: str, ancestor: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies below it."""
    return code.startswith(prefix_of(ancestor))


def league_of(code: str) -> str:
    """The 盟市 (level 2) a code belongs to; a province code is its own answer."""
    return code if level_of(code) == 1 else code[:4].ljust(12, "0")


def township_kind(code: str) -> str:
    seg = int(code[6:9])
    if seg == 0:
        return ""
    if seg < 100:
        return "街道"
    if seg < 200:
        return "镇"
    if seg < 400:
        return "乡/苏木"
    return "农场等"


def village_kind(code: str) -> str:
    seg = int(code[9:12])
    if seg == 0:
        return ""
    return "居委会/社区" if seg < 200 else "村委会/嘎查"
