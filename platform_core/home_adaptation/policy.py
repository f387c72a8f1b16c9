"""What a 盟市 configures about home adaptation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from platform_core.care_policy.service import ABILITY_GRADE, ELDER_CATEGORY, vocabulary_field
from platform_core.elders.vocabulary import HARDSHIP_CATEGORIES


@dataclass(frozen=True)
class HomeAdaptationPolicy:
    section: ClassVar[str] = "home_adaptation"

    # Categories that qualify on their own (elders vocabulary) ...
    eligible_categories: tuple[str, ...] = vocabulary_field(
        ELDER_CATEGORY,
        (
            *HARDSHIP_CATEGORIES,
            "disability",
            "centenarian",
            "bereaved_parent",
            "family_planning",
            "entitled",
        ),
    )
    # ... and the ability grade that qualifies whatever the category (intact ... complete).
    min_grade: str = vocabulary_field(ABILITY_GRADE, "moderate")
    # What public money pays for the basic items of one household, over all its cases.
    household_subsidy_cap: Decimal = Decimal("3000")
