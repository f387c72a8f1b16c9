"""The pure rule that splits an order's amount into subsidy and self-pay.

Several categories never stack: an elder who is both 低保 and 高龄 gets the one rule that pays
the most for this order, after its per-order cap and what is left of its monthly cap. Stacking
would let a person with many categories draw several budgets for one service, which no 盟市
regulation we know of allows. When two rules pay the same, the one that leaves more of the
elder's monthly allowance untouched wins, then the category code decides, so the outcome never
depends on the order the categories were listed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from platform_core.catalogue.models import SubsidyKind
from platform_core.errors import ValidationFailed

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Round to the fen (0.01 元), half up, as invoices do."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SubsidyTerms:
    """One category's applicable rule, detached from the database."""

    category: str
    kind: SubsidyKind | str
    value: Decimal
    per_order_cap: Decimal | None = None
    monthly_cap: Decimal | None = None
    rule_id: int | None = None


@dataclass(frozen=True)
class Split:
    amount: Decimal
    subsidy: Decimal
    self_pay: Decimal
    category: str | None  # the category whose rule paid, None when nothing applies
    rule_id: int | None
    # What held the subsidy back, if anything: "per_order_cap", "monthly_cap" or "amount".
    capped_by: str | None


def validate_terms(terms: SubsidyTerms) -> None:
    if terms.kind not in (SubsidyKind.PERCENT, SubsidyKind.FIXED):
        raise ValidationFailed(
            f"补贴方式只能是 percent 或 fixed: {terms.kind!r} / unknown subsidy kind",
            code="invalid_subsidy_rule",
        )
    if terms.value < 0 or (terms.kind == SubsidyKind.PERCENT and terms.value > 100):
        raise ValidationFailed(
            f"补贴比例应在 0-100 之间, 金额不能为负: {terms.value} / subsidy value out of range",
            code="invalid_subsidy_rule",
        )
    for cap in (terms.per_order_cap, terms.monthly_cap):
        if cap is not None and cap < 0:
            raise ValidationFailed(
                f"补贴上限不能为负: {cap} / a cap cannot be negative", code="invalid_subsidy_rule"
            )


def _one(
    amount: Decimal, quantity: Decimal, terms: SubsidyTerms, used: Decimal
) -> tuple[Decimal, str | None, Decimal]:
    """Subsidy under one rule, what capped it, and the monthly headroom it leaves."""
    raw = (
        amount * terms.value / 100 if terms.kind == SubsidyKind.PERCENT else terms.value * quantity
    )
    subsidy, capped_by = to_money(raw), None
    limits = [(amount, "amount")]
    if terms.per_order_cap is not None:
        limits.append((to_money(terms.per_order_cap), "per_order_cap"))
    headroom: Decimal | None = None
    if terms.monthly_cap is not None:
        headroom = max(ZERO, to_money(terms.monthly_cap) - used)
        limits.append((headroom, "monthly_cap"))
    for limit, name in limits:
        if subsidy > limit:
            subsidy, capped_by = limit, name
    left = Decimal("Infinity") if headroom is None else headroom - subsidy
    return subsidy, capped_by, left


def split_amount(
    amount: Decimal,
    *,
    quantity: Decimal | int = 1,
    rules: Iterable[SubsidyTerms],
    used_this_month: Mapping[int, Decimal] | None = None,
) -> Split:
    """Split ``amount`` by the most favourable rule.

    ``used_this_month`` maps a rule id to the subsidy that rule already paid this elder in the
    current month: a monthly cap is a budget of its rule, so a meal rule's spending never eats
    into a cleaning rule's cap even when both belong to the same category.
    """
    amount = to_money(amount)
    quantity = Decimal(quantity)
    if amount < 0:
        raise ValidationFailed(
            f"金额不能为负: {amount} / amount cannot be negative", code="invalid_amount"
        )
    if quantity <= 0:
        raise ValidationFailed(
            f"数量必须大于 0: {quantity} / quantity must be positive", code="invalid_quantity"
        )
    used_this_month = used_this_month or {}
    candidates = []
    for terms in sorted(rules, key=lambda t: t.category):
        validate_terms(terms)
        used = (
            to_money(used_this_month.get(terms.rule_id, ZERO))
            if terms.rule_id is not None
            else ZERO
        )
        subsidy, capped_by, left = _one(amount, quantity, terms, used)
        candidates.append((subsidy, left, terms, capped_by))
    if not candidates:
        return Split(amount, ZERO, amount, None, None, None)
    # max() keeps the first of equals, and candidates are in category order
    subsidy, _, terms, capped_by = max(candidates, key=lambda c: (c[0], c[1]))
    return Split(amount, subsidy, amount - subsidy, terms.category, terms.rule_id, capped_by)
