"""Chinese telephone numbers in the canonical digits that caller identification matches on.

Canonical forms: mobiles as 11 digits (``13812345678``), landlines as trunk zero + area code +
local number (``04716912345``), service numbers as dialled (``12349``). Caller ID arrives in
every shape (``+8613812345678``, ``0086 471 691 2345``, ``(0471)6912345``, or just the local
``6912345`` from a trunk of the same city), so every number is stored and looked up in this form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from platform_core.errors import ValidationFailed
from platform_core.security.masking import mask_phone

# Nationwide short numbers; they identify a service, never a person.
SERVICE_NUMBERS = frozenset(
    {"110", "119", "120", "122", "12110", "12345", "12349", "12315", "12320"}
)

_SEPARATORS = re.compile(r"[\s\-().\u00b7/]")
_MOBILE = re.compile(r"1[3-9]\d{9}")


class InvalidPhoneNumber(ValidationFailed):
    code = "invalid_phone_number"


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    SERVICE = "service"


@dataclass(frozen=True)
class PhoneNumber:
    digits: str
    kind: PhoneKind
    area_code: str | None = None  # landlines only, with its trunk zero: "0471"

    @property
    def local(self) -> str | None:
        return self.digits[len(self.area_code) :] if self.area_code else None

    @property
    def display(self) -> str:
        if self.kind is PhoneKind.LANDLINE and self.area_code:
            return f"{self.area_code}-{self.local}"
        return self.digits

    @property
    def masked(self) -> str:
        return mask_phone(self.digits)


def _invalid(message: str, reason: str, raw: str) -> InvalidPhoneNumber:
    return InvalidPhoneNumber(message, reason=reason, value=raw)


def normalize_area_code(raw: str) -> str:
    """``471`` or ``0471`` -> ``0471``."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if not (digits.isascii() and digits.isdigit()):
        raise _invalid(f"区号只能包含数字: {raw!r} / area code must be digits", "area_code", raw)
    if not digits.startswith("0"):
        digits = "0" + digits
    if _area_code_length(digits) != len(digits):
        raise _invalid(f"区号格式不对: {raw!r} / not a valid area code", "area_code", raw)
    return digits


def _area_code_length(national: str) -> int:
    # Beijing (010) and the 02x cities have 2-digit codes after the zero; all others have 3.
    return 3 if national[1] in "12" else 4


def normalize_phone(raw: str, *, area_code: str | None = None) -> PhoneNumber:
    """Canonical digits and kind of ``raw``; ``area_code`` completes a bare local number."""
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        raise _invalid("电话号码为空 / phone number is empty", "empty", raw)
    compact = _SEPARATORS.sub("", text)
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not (digits.isascii() and digits.isdigit()):
        raise _invalid(
            f"电话号码含有非数字字符: {raw!r} / phone number contains characters other than digits",
            "characters",
            raw,
        )
    if international:
        if not digits.startswith("86"):
            raise _invalid(
                f"不是中国大陆号码: {raw!r} / not a mainland China number", "country", raw
            )
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and len(digits) >= 11:
        # A bare country code: no mobile starts with 86 and no local number is this long.
        digits, international = digits[2:], True
    if (
        international
        and digits
        and digits[0] != "0"
        and not _MOBILE.fullmatch(digits)
        and digits not in SERVICE_NUMBERS
    ):
        digits = "0" + digits  # the area code lost its trunk zero behind +86 (Beijing: +86 10 ...)

    if _MOBILE.fullmatch(digits):
        return PhoneNumber(digits, PhoneKind.MOBILE)
    if len(digits) == 12 and digits[0] == "0" and _MOBILE.fullmatch(digits[1:]):
        # Trunks put a long-distance zero in front of mobiles from other cities.
        return PhoneNumber(digits[1:], PhoneKind.MOBILE)
    if digits in SERVICE_NUMBERS:
        return PhoneNumber(digits, PhoneKind.SERVICE)
    if digits.startswith("0") and len(digits) > 1:
        if digits[1] == "0":
            raise _invalid(
                f"国际号码不受支持: {raw!r} / international numbers are not supported",
                "country",
                raw,
            )
        n = _area_code_length(digits)
        local = digits[n:]
        _check_local(local, raw)
        return PhoneNumber(digits, PhoneKind.LANDLINE, digits[:n])
    if digits.startswith("1"):
        raise _invalid(
            f"不是有效的手机号码 (应为 1[3-9] 开头的 11 位): {raw!r} / not a valid mobile number "
            "(11 digits starting 13-19)",
            "mobile",
            raw,
        )
    if len(digits) in (7, 8):
        _check_local(digits, raw)
        if not area_code:
            raise _invalid(
                f"本地号码缺少区号: {raw!r} / local number without an area code",
                "missing_area_code",
                raw,
            )
        area = normalize_area_code(area_code)
        return PhoneNumber(area + digits, PhoneKind.LANDLINE, area)
    raise _invalid(
        f"电话号码位数不对 ({len(digits)} 位): {raw!r} / a phone number has 11 digits (mobile), "
        "area code + 7-8 digits (landline) or is a service number",
        "length",
        raw,
    )


def _check_local(local: str, raw: str) -> None:
    if len(local) not in (7, 8):
        raise _invalid(
            f"固定电话的本地号码应为 7-8 位, 实际 {len(local)} 位: {raw!r} / a landline's local number "
            f"has 7-8 digits, got {len(local)}",
            "length",
            raw,
        )
    if local[0] in "01":
        raise _invalid(
            f"本地号码不能以 {local[0]} 开头: {raw!r} / a local number cannot start with {local[0]}",
            "local",
            raw,
        )


def try_normalize_phone(raw: str | None, *, area_code: str | None = None) -> PhoneNumber | None:
    """``normalize_phone`` for input that may be garbage (caller ID): None instead of an error."""
    if not raw:
        return None
    try:
        return normalize_phone(raw, area_code=area_code)
    except InvalidPhoneNumber:
        return None
