from __future__ import annotations

from datetime import date

import pytest

from platform_core.elders.idcard import InvalidIdNumber, check_char, make_id_number, parse_id_number

TODAY = date(2024, 6, 1)


def test_examples_from_the_standard() -> None:
    # GB 11643-1999 annex examples: check characters computed by hand there.
    beijing = parse_id_number("11010519491231002X", today=TODAY)
    assert beijing.birth_date == date(1949, 12, 31)
    assert beijing.sex == "female"
    shantou = parse_id_number("440524188001010014", today=TODAY)
    assert shantou.birth_date == date(1880, 1, 1)
    assert shantou.sex == "male"


def test_valid_number_from_inner_mongolia_is_known_and_clean() -> None:
    number = make_id_number("150102", date(1950, 3, 7), 123)
    parsed = parse_id_number(number, today=TODAY)
    assert parsed.number == number
    assert parsed.area_code == "150102"
    assert parsed.birth_date == date(1950, 3, 7)
    assert parsed.sex == "male"  # sequence 123: odd 17th digit
    assert parsed.warnings == () and parsed.area_known
    assert parsed.age_on(TODAY) == 74
    assert (
        parse_id_number(make_id_number("150102", date(1950, 3, 7), 124), today=TODAY).sex
        == "female"
    )


def test_lower_case_x_spaces_and_full_width_are_accepted() -> None:
    parsed = parse_id_number(" 110105 19491231 002x ", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert (
        parse_id_number("１１０１０５１９４９１２３１００２Ｘ", today=TODAY).number
        == "11010519491231002X"
    )


def test_fifteen_digit_numbers_are_upgraded() -> None:
    parsed = parse_id_number("150102500307123", today=TODAY)
    assert parsed.upgraded_from_15
    assert parsed.number == make_id_number("150102", date(1950, 3, 7), 123)
    assert parsed.number[17] == check_char(parsed.number[:17])
    assert parsed.birth_date == date(1950, 3, 7)


def test_unknown_area_code_is_flagged_not_rejected() -> None:
    hebei = parse_id_number(make_id_number("130102", date(1948, 5, 1), 31), today=TODAY)
    assert not hebei.area_known
    assert "130102" in hebei.warnings[0].message
    nowhere = parse_id_number(make_id_number("990101", date(1948, 5, 1), 31), today=TODAY)
    assert [w.code for w in nowhere.warnings] == ["unknown_area_code"]
    assert "省级" in nowhere.warnings[0].message
    # An old 乌兰察布盟 code is still in the dictionary (as an alias).
    assert parse_id_number(make_id_number("152601", date(1948, 5, 1), 31), today=TODAY).area_known


@pytest.mark.parametrize(
    "raw, reason, words",
    [
        ("1501021950030712", "length", "16"),
        ("", "empty", "为空"),
        ("15010219500307123A", "characters", "X"),
        ("1501021950030712X3", "characters", "17"),
        ("15010a500307123", "characters", "15"),
        ("150102195002300000", "birth_date", "19500230"),
        ("150102209901010000", "future_birth_date", "未来"),
    ],
)
def test_each_failure_says_what_is_wrong(raw: str, reason: str, words: str) -> None:
    if reason in ("birth_date", "future_birth_date"):
        raw = raw[:17] + check_char(raw[:17])  # a right check character: only the date is wrong
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(raw, today=TODAY)
    assert err.value.code == "invalid_id_number"
    assert err.value.details["reason"] == reason
    assert words in err.value.message


def test_wrong_check_character_names_expected_and_given() -> None:
    good = make_id_number("150102", date(1950, 3, 7), 123)
    wrong = "0" if good[17] != "0" else "1"
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(good[:17] + wrong, today=TODAY)
    assert err.value.details["reason"] == "check_digit"
    assert f"应为 {good[17]}, 实际 {wrong}" in err.value.message
