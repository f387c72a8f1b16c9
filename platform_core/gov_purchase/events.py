"""Past-tense events of government-purchased services."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class GovPurchaseStepTaken(DomainEvent):
    application_id: int
    elder_id: int
    region_code: str
    action: str
    status: str
    notice_id: int | None


@dataclass(frozen=True)
class AllowanceCharged(DomainEvent):
    elder_id: int
    region_code: str
    order_id: int
    amount: Decimal
    remaining: Decimal


@dataclass(frozen=True)
class AllowanceReleased(DomainEvent):
    elder_id: int
    region_code: str
    order_id: int
    amount: Decimal


@dataclass(frozen=True)
class AllowanceRunProgressed(DomainEvent):
    """A batch of the monthly allowance run is done (or the run has finished or failed)."""

    region_code: str
    run_id: int
    month: str
    status: str
    total: int
    done: int
    opened: int
    charged: int
    released: int
