"""How personal data is shown by default (DOMAIN.md section 12): masked until revealed."""

from __future__ import annotations


def mask_id_number(value: str | None) -> str:
    """``150102195001011234`` -> ``150102********1234``."""
    if not value:
        return ""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    """``13812345678`` -> ``138****5678``; landlines keep the area code and last four digits."""
    if not value:
        return ""
    digits = value
    if len(digits) <= 7:
        return digits[:2] + "*" * max(0, len(digits) - 4) + digits[-2:]
    keep_head = 3 if digits.startswith("1") else (4 if digits.startswith("0") else 3)
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_name(value: str | None) -> str:
    """Chinese names keep the surname: ``张三丰`` -> ``张**``; Mongolian names keep the first
    syllable before the separator dot: ``巴特·尔`` -> ``巴特·*``."""
    if not value:
        return ""
    if "·" in value:
        head, _, tail = value.partition("·")
        return head + "·" + "*" * len(tail)
    return value[0] + "*" * (len(value) - 1)


def mask_address(value: str | None, keep: int = 9) -> str:
    """Keep the administrative part of an address, hide the house number."""
    if not value:
        return ""
    return value[:keep] + ("****" if len(value) > keep else "")
