"""The unified social credit code (统一社会信用代码, GB 32100-2015) of an organisation.

18 characters from an alphabet without I, O, Z, S, V: registration authority (1), organisation
type (1), the registering authority's GB/T 2260 area code (6), the organisation code of
GB 11714 (9) and a check character. The check character is what catches a mistyped code at the
counter, so it is verified; the area code is not matched against the dictionary, because a
provider registered elsewhere in China may still serve this region.
"""

from __future__ import annotations

import unicodedata

from platform_core.errors import ValidationFailed

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714 organisation code: 8 body characters and its own check character.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


class InvalidCreditCode(ValidationFailed):
    code = "invalid_credit_code"


def check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 characters."""
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w
        for c, w in zip(body8, _ORG_WEIGHTS, strict=True)
    )
    rest = 11 - total % 11
    return "X" if rest == 10 else "0" if rest == 11 else str(rest)


def normalize_credit_code(raw: str) -> str:
    """Validate and return the canonical (upper-case, no spaces) code, or raise with the reason."""
    text = "".join(unicodedata.normalize("NFKC", str(raw)).split()).upper()
    if len(text) != 18:
        raise InvalidCreditCode(
            f"统一社会信用代码应为 18 位, 实际 {len(text)} 位 / the code must have 18 characters, got {len(text)}",
            reason="length",
            value=raw,
        )
    bad = sorted({c for c in text if c not in _VALUE})
    if bad:
        raise InvalidCreditCode(
            f"统一社会信用代码含有不允许的字符 {''.join(bad)} (不使用 I、O、Z、S、V) / characters not allowed: "
            f"{''.join(bad)}",
            reason="characters",
            value=raw,
        )
    if not (text[2:8].isascii() and text[2:8].isdigit()):
        raise InvalidCreditCode(
            f"统一社会信用代码第 3-8 位应为行政区划代码: {text[2:8]} / characters 3-8 must be an area code",
            reason="area_code",
            value=raw,
        )
    expected = check_char(text[:17])
    if text[17] != expected:
        raise InvalidCreditCode(
            f"统一社会信用代码校验位错误: 应为 {expected}, 实际 {text[17]} / check character wrong: "
            f"expected {expected}, got {text[17]}",
            reason="check_char",
            value=raw,
        )
    return text


def make_credit_code(authority_and_type: str, area_code: str, org_body8: str) -> str:
    """Compose a valid code (demo data, tests): e.g. ``make_credit_code("52", "150102", "MJ0012AB")``."""
    org = org_body8 + org_check_char(org_body8)
    first17 = authority_and_type + area_code + org
    return first17 + check_char(first17)
