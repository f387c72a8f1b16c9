"""Past-tense events of meal aid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class MealBooked(DomainEvent):
    booking_id: int
    elder_id: int
    region_code: str
    meal_point_id: int
    served_on: date
    meal: str
    mode: str


@dataclass(frozen=True)
class MealBookingCancelled(DomainEvent):
    booking_id: int
    elder_id: int
    region_code: str


@dataclass(frozen=True)
class MealRedeemed(DomainEvent):
    booking_id: int
    elder_id: int
    region_code: str
    meal_point_id: int


@dataclass(frozen=True)
class MealPointSettled(DomainEvent):
    settlement_id: int
    meal_point_id: int
    region_code: str
    month: date
