"""The pure subsidy split: percentages, fixed amounts per unit, caps, several categories."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from platform_core.catalogue.models import SubsidyKind
from platform_core.catalogue.subsidy import SubsidyTerms, split_amount
from platform_core.errors import ValidationFailed

PCT, FIX = SubsidyKind.PERCENT, SubsidyKind.FIXED


def test_percentage_rounds_to_the_fen_and_parts_add_up() -> None:
    split = split_amount(D("33.33"), rules=[SubsidyTerms("subsistence", PCT, D("80"), rule_id=1)])
    assert split.subsidy == D("26.66")  # 26.664 -> 26.66
    assert split.self_pay == D("6.67")
    assert split.subsidy + split.self_pay == split.amount
    assert (split.category, split.rule_id, split.capped_by) == ("subsistence", 1, None)


def test_fixed_amount_is_per_unit_and_never_exceeds_the_amount() -> None:
    meals = split_amount(
        D("45"), quantity=3, rules=[SubsidyTerms("advanced_age", FIX, D("5"), rule_id=2)]
    )
    assert (meals.subsidy, meals.self_pay) == (D("15.00"), D("30.00"))
    cheap = split_amount(
        D("4"), quantity=1, rules=[SubsidyTerms("advanced_age", FIX, D("5"), rule_id=2)]
    )
    assert (cheap.subsidy, cheap.self_pay, cheap.capped_by) == (D("4.00"), D("0.00"), "amount")


def test_per_order_cap() -> None:
    rule = SubsidyTerms("subsistence", PCT, D("80"), per_order_cap=D("100"), rule_id=3)
    under = split_amount(D("100"), rules=[rule])
    at = split_amount(D("125"), rules=[rule])
    over = split_amount(D("200"), rules=[rule])
    assert (under.subsidy, under.capped_by) == (D("80.00"), None)
    assert (at.subsidy, at.capped_by) == (D("100.00"), None)  # exactly the cap is not held back
    assert (over.subsidy, over.self_pay, over.capped_by) == (
        D("100.00"),
        D("100.00"),
        "per_order_cap",
    )


def test_monthly_cap_counts_what_the_rule_already_paid() -> None:
    rule = SubsidyTerms("advanced_age", PCT, D("50"), monthly_cap=D("100"), rule_id=7)
    fresh = split_amount(D("80"), rules=[rule], used_this_month={})
    partly = split_amount(D("80"), rules=[rule], used_this_month={7: D("70")})
    spent = split_amount(D("80"), rules=[rule], used_this_month={7: D("100")})
    other_rule_spent = split_amount(D("80"), rules=[rule], used_this_month={8: D("100")})
    assert fresh.subsidy == D("40.00")
    assert (partly.subsidy, partly.self_pay, partly.capped_by) == (
        D("30.00"),
        D("50.00"),
        "monthly_cap",
    )
    assert (spent.subsidy, spent.self_pay, spent.capped_by) == (
        D("0.00"),
        D("80.00"),
        "monthly_cap",
    )
    assert spent.category == "advanced_age"  # the console can say why nothing was paid
    assert other_rule_spent.subsidy == D("40.00")


def test_categories_do_not_stack_the_most_favourable_rule_wins() -> None:
    rules = [
        SubsidyTerms("advanced_age", PCT, D("30"), rule_id=1),
        SubsidyTerms("subsistence", PCT, D("80"), per_order_cap=D("50"), rule_id=2),
        SubsidyTerms("disability", FIX, D("45"), rule_id=3),
    ]
    # 200: 30% = 60, 80% capped at 50, fixed 45 -> 高龄 wins although its rate is the lowest
    big = split_amount(D("200"), rules=rules)
    assert (big.category, big.subsidy, big.self_pay) == ("advanced_age", D("60.00"), D("140.00"))
    # 60: 30% = 18, 80% = 48, fixed 45 -> 低保
    small = split_amount(D("60"), rules=rules)
    assert (small.category, small.subsidy) == ("subsistence", D("48.00"))
    # the order the categories arrive in does not matter
    assert split_amount(D("60"), rules=list(reversed(rules))) == small


def test_a_capped_out_category_yields_to_the_next_best() -> None:
    rules = [
        SubsidyTerms("extreme_hardship", PCT, D("100"), monthly_cap=D("600"), rule_id=1),
        SubsidyTerms("advanced_age", PCT, D("30"), monthly_cap=D("100"), rule_id=2),
    ]
    split = split_amount(D("50"), rules=rules, used_this_month={1: D("590")})
    assert (split.category, split.subsidy) == ("advanced_age", D("15.00"))


def test_ties_spare_the_capped_allowance_then_follow_category_code() -> None:
    capped = SubsidyTerms("advanced_age", PCT, D("50"), monthly_cap=D("100"), rule_id=1)
    uncapped = SubsidyTerms("entitled", PCT, D("50"), rule_id=2)
    assert split_amount(D("40"), rules=[capped, uncapped]).category == "entitled"
    a = SubsidyTerms("bereaved_parent", PCT, D("50"), rule_id=3)
    b = SubsidyTerms("family_planning", PCT, D("50"), rule_id=4)
    assert split_amount(D("40"), rules=[b, a]).category == "bereaved_parent"


def test_no_rule_means_everything_is_self_paid() -> None:
    split = split_amount(D("35"), rules=[])
    assert (split.subsidy, split.self_pay, split.category) == (D("0.00"), D("35.00"), None)


@pytest.mark.parametrize(
    "amount, quantity, rule, reason",
    [
        (D("-1"), 1, SubsidyTerms("x", PCT, D("10")), "金额不能为负"),
        (D("10"), 0, SubsidyTerms("x", PCT, D("10")), "数量必须大于 0"),
        (D("10"), 1, SubsidyTerms("x", PCT, D("120")), "0-100"),
        (D("10"), 1, SubsidyTerms("x", "half", D("10")), "percent 或 fixed"),
        (D("10"), 1, SubsidyTerms("x", FIX, D("5"), per_order_cap=D("-1")), "上限不能为负"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    amount: D, quantity: int, rule: SubsidyTerms, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        split_amount(amount, quantity=quantity, rules=[rule])
    assert reason in err.value.message
