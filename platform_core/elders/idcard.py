"""Resident ID numbers (GB 11643): validation, the 15-digit upgrade and what the number says.

An 18-character number is 6 area digits (GB/T 2260, the place of first registration), 8 birth
date digits, 3 sequence digits (the last one odd for men, even for women) and a check character.
A wrong check character, length or date is refused; an area code this deployment's dictionary
does not know is only flagged, because people are born all over the country and codes change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from platform_core import clock
from platform_core.errors import ValidationFailed
from platform_core.regions.dictionary import ALIASES, LEAGUES, PROVINCE

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# GB/T 2260 province-level codes: an ID number outside these cannot have been issued.
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


class InvalidIdNumber(ValidationFailed):
    code = "invalid_id_number"


@dataclass(frozen=True)
class IdWarning:
    code: str
    message: str


@dataclass(frozen=True)
class IdNumber:
    number: str
    area_code: str
    birth_date: date
    sex: str  # "male" | "female"
    upgraded_from_15: bool = False
    warnings: tuple[IdWarning, ...] = ()

    @property
    def area_known(self) -> bool:
        return not any(w.code == "unknown_area_code" for w in self.warnings)

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


@lru_cache(maxsize=1)
def dictionary_area_codes() -> frozenset[str]:
    """6-digit codes the region dictionary knows, old aliases included."""
    known = {PROVINCE[0]}
    for league, (_name, _area, counties) in LEAGUES.items():
        known.add(league)
        known.update(counties)
    known.update(ALIASES)
    return frozenset(known)


def _clean(raw: str) -> str:
    text = unicodedata.normalize("NFKC", str(raw))
    return "".join(text.split()).upper()


def _invalid(message: str, reason: str, raw: str) -> InvalidIdNumber:
    return InvalidIdNumber(message, reason=reason, value=raw)


def _birth(digits8: str, raw: str, today: date) -> date:
    try:
        born = date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        raise _invalid(
            f"身份证号中的出生日期 {digits8} 不是真实日期 / impossible birth date {digits8}",
            "birth_date",
            raw,
        ) from None
    if born > today:
        raise _invalid(
            f"身份证号中的出生日期 {born.isoformat()} 在未来 / birth date {born.isoformat()} is in the future",
            "future_birth_date",
            raw,
        )
    return born


def parse_id_number(
    raw: str,
    *,
    today: date | None = None,
    known_area_codes: Collection[str] | None = None,
) -> IdNumber:
    """Validate and normalise an ID number (18 characters, or 15 digits upgraded to 18).

    ``known_area_codes`` defaults to the region dictionary; codes outside it are flagged in
    ``warnings`` and still accepted.
    """
    today = today or clock.today()
    text = _clean(raw)
    if not text:
        raise _invalid("身份证号为空 / ID number is empty", "empty", raw)
    upgraded = False
    if len(text) == 15:
        if not text.isdigit():
            raise _invalid(
                "15 位身份证号只能包含数字 / a 15-digit ID number has digits only",
                "characters",
                raw,
            )
        first17 = text[:6] + "19" + text[6:]
        text = first17 + check_char(first17)
        upgraded = True
    elif len(text) != 18:
        raise _invalid(
            f"身份证号应为 18 位 (或旧式 15 位), 实际 {len(text)} 位 / ID number must have 18 characters "
            f"(or 15 digits), got {len(text)}",
            "length",
            raw,
        )
    first17, given = text[:17], text[17]
    if not first17.isdigit() or not (given.isdigit() or given == "X"):
        raise _invalid(
            "身份证号前 17 位须为数字, 末位为数字或 X / the first 17 characters must be digits and the last a digit or X",
            "characters",
            raw,
        )
    expected = check_char(first17)
    if given != expected:
        raise _invalid(
            f"身份证号校验位错误: 应为 {expected}, 实际 {given} / check character wrong: expected {expected}, got {given}",
            "check_digit",
            raw,
        )
    born = _birth(first17[6:14], raw, today)
    area = first17[:6]
    warnings: list[IdWarning] = []
    known = dictionary_area_codes() if known_area_codes is None else known_area_codes
    if area[:2] not in PROVINCE_CODES:
        warnings.append(
            IdWarning(
                "unknown_area_code",
                f"地址码 {area} 的省级代码不存在, 请核对 / area code {area} has no such province",
            )
        )
    elif area not in known:
        warnings.append(
            IdWarning(
                "unknown_area_code",
                f"地址码 {area} 不在本地区划字典中 / area code {area} is not in the region dictionary",
            )
        )
    sex = "male" if int(first17[16]) % 2 else "female"
    return IdNumber(
        number=text,
        area_code=area,
        birth_date=born,
        sex=sex,
        upgraded_from_15=upgraded,
        warnings=tuple(warnings),
    )


def make_id_number(area_code: str, birth: date, sequence: int) -> str:
    """Compose a valid 18-character number (demo data, tests); ``sequence`` 0-999 sets the sex."""
    first17 = f"{area_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
