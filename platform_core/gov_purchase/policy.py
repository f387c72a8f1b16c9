"""Government-purchased services' own policy section (read through platform_core.care_policy)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from platform_core.care_policy.service import (
    ABILITY_GRADE,
    ELDER_CATEGORY,
    SERVICE_CATEGORY,
    vocabulary_field,
)
from platform_core.elders.vocabulary import HARDSHIP_CATEGORIES


@dataclass(frozen=True)
class GovPurchasePolicy:
    section: ClassVar[str] = "gov_purchase"

    # Elder categories (platform_core.elders vocabulary) that may receive purchased services.
    eligible_categories: tuple[str, ...] = vocabulary_field(
        ELDER_CATEGORY,
        (
            *HARDSHIP_CATEGORIES,
            "centenarian",
            "family_planning",
            "bereaved_parent",
            "entitled",
        ),
    )
    # The mildest ability grade that qualifies (intact, mild, moderate, severe, complete).
    min_grade: str = vocabulary_field(ABILITY_GRADE, "mild")
    # Monthly service allowance by ability grade, 元.
    monthly_allowance_by_grade: dict[str, Decimal] = vocabulary_field(
        ABILITY_GRADE,
        default_factory=lambda: {
            "mild": Decimal("100"),
            "moderate": Decimal("200"),
            "severe": Decimal("400"),
            "complete": Decimal("600"),
        },
    )
    # Service categories of the catalogue whose orders draw on the allowance. Meals are left
    # out: meal aid pays its own per-meal subsidy. What an order draws is its self-pay share
    # (the catalogue's category subsidy already paid the rest), up to what is left this month.
    allowance_service_categories: tuple[str, ...] = vocabulary_field(
        SERVICE_CATEGORY, ("daily_care", "medical", "comfort", "visit")
    )
    publicity_days: int = 7
    # Days after a refusal within which the applicant may ask for a review (复核).
    review_request_days: int = 30
    # Months an approval lasts before the elder must re-apply.
    approval_months: int = 12
