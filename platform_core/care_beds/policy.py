"""What a 盟市 configures about family care beds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from platform_core.care_policy.service import ABILITY_GRADE, vocabulary_field


@dataclass(frozen=True)
class CareBedPolicy:
    section: ClassVar[str] = "care_beds"

    # The mildest ability grade that qualifies for a bed (intact, mild, moderate, severe, complete).
    min_grade: str = vocabulary_field(ABILITY_GRADE, "moderate")
    # Monthly operating subsidy per bed by grade, 元, and the ceiling for one household.
    monthly_subsidy_by_grade: dict[str, Decimal] = vocabulary_field(
        ABILITY_GRADE,
        default_factory=lambda: {
            "moderate": Decimal("300"),
            "severe": Decimal("500"),
            "complete": Decimal("700"),
        },
    )
    household_monthly_cap: Decimal = Decimal("800")
    # A month is settled only when at least this many services (visits included) were delivered.
    min_services_per_month: int = 4
    min_visits_per_month: int = 1
