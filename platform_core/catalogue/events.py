"""Past-tense events of the catalogue (prices, SLAs and subsidy rules changed)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class ServiceTermsChanged(DomainEvent):
    region_code: str  # the league, or the autonomous region for a default
    service_type_code: str
    price: Decimal | None
    response_minutes: int | None
    arrival_minutes: int | None


@dataclass(frozen=True)
class SubsidyRuleChanged(DomainEvent):
    region_code: str
    rule_id: int
    elder_category: str
    service_type_code: str | None
    kind: str
    value: Decimal
    active: bool
