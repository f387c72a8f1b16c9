"""What a 盟市 configures about meal aid."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from platform_core.care_policy.service import ELDER_CATEGORY, vocabulary_field


@dataclass(frozen=True)
class MealAidPolicy:
    section: ClassVar[str] = "meal_aid"

    # Subsidy per meal by elder category (elders vocabulary), 元. Categories never stack: the
    # best-paying one applies, as with every other subsidy.
    subsidy_per_meal: dict[str, Decimal] = vocabulary_field(
        ELDER_CATEGORY,
        default_factory=lambda: {
            "extreme_hardship": Decimal("10"),
            "centenarian": Decimal("10"),
            "subsistence": Decimal("6"),
            "poor_disabled": Decimal("6"),
            "poor_semi_disabled": Decimal("5"),
            "near_subsistence": Decimal("4"),
            "bereaved_parent": Decimal("4"),
            "family_planning": Decimal("4"),
            "entitled": Decimal("4"),
            "advanced_age": Decimal("3"),
            "disability": Decimal("3"),
        },
    )
    # How many meals a day are subsidised for one elder, and the monthly ceiling per elder.
    subsidised_meals_per_day: int = 2
    monthly_subsidy_cap: Decimal = Decimal("300")
    # Bookings open this many days ahead and close this many minutes before the meal is served.
    booking_open_days: int = 7
    booking_cutoff_minutes: int = 120
    cancel_cutoff_minutes: int = 60
    # The catalogue's service type of the order that carries a delivery to the elder's door:
    # the trip only (the meal's money and subsidy stay on the booking, settled per point).
    delivery_service_type: str = "meal_aid_delivery"
