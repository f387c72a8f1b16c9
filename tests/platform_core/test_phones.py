from __future__ import annotations

import pytest

from platform_core.elders.phones import (
    InvalidPhoneNumber,
    PhoneKind,
    normalize_phone,
    try_normalize_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "0086-138-1234-5678",
        "8613812345678",
        "138-1234-5678",
        "(+86) 138 1234 5678",
        "013812345678",
        "１３８１２３４５６７８",
    ],
)
def test_mobile_forms(raw: str) -> None:
    number = normalize_phone(raw)
    assert number.digits == "13812345678"
    assert number.kind is PhoneKind.MOBILE
    assert number.masked == "138****5678"


@pytest.mark.parametrize(
    "raw",
    [
        "04716912345",
        "0471-6912345",
        "(0471)6912345",
        "0471 691 2345",
        "+86 471 6912345",
        "+86-0471-6912345",
        "0086 471 6912345",
        "864716912345",
        "（0471）6912345",
    ],
)
def test_landline_forms(raw: str) -> None:
    number = normalize_phone(raw)
    assert number.digits == "04716912345"
    assert number.kind is PhoneKind.LANDLINE
    assert number.area_code == "0471"
    assert number.local == "6912345"
    assert number.display == "0471-6912345"


def test_three_digit_area_codes_and_eight_digit_locals() -> None:
    assert normalize_phone("010-62345678").area_code == "010"
    assert normalize_phone("+86 10 6234 5678").digits == "01062345678"
    assert normalize_phone("02087654321").area_code == "020"
    assert normalize_phone("0472-51234567").local == "51234567"


@pytest.mark.parametrize("area", ["0471", "471", "0471 "])
def test_local_number_completed_with_area_code(area: str) -> None:
    number = normalize_phone("691-2345", area_code=area)
    assert number.digits == "04716912345"
    assert number.kind is PhoneKind.LANDLINE


@pytest.mark.parametrize("raw", ["110", "119", "120", "12349", "+86 12349"])
def test_service_numbers(raw: str) -> None:
    number = normalize_phone(raw)
    assert number.kind is PhoneKind.SERVICE
    assert number.digits == raw.replace("+86 ", "")


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty"),
        ("anonymous", "characters"),
        ("<unknown>", "characters"),
        ("6912345", "missing_area_code"),
        ("12812345678", "mobile"),
        ("1381234567", "mobile"),
        ("0471-691234", "length"),
        ("0471-0912345", "local"),
        ("+1 415 555 0100", "country"),
        ("00441234567890", "country"),
        ("2001", "length"),
        ("1234567890123456", "mobile"),
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as err:
        normalize_phone(raw)
    assert err.value.code == "invalid_phone_number"
    assert err.value.details["reason"] == reason
    assert " / " in err.value.message  # Chinese first, then English
    assert try_normalize_phone(raw) is None
