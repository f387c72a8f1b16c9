"""Past-tense events of care budgets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from platform_core.events import DomainEvent


@dataclass(frozen=True)
class CareBudgetSet(DomainEvent):
    region_code: str
    programme: str
    year: int
    amount: Decimal


@dataclass(frozen=True)
class CareBudgetWarning(DomainEvent):
    """A programme's spent and committed money passed the bureau's warning share."""

    region_code: str
    programme: str
    year: int
    amount: Decimal
    spent: Decimal
    committed: Decimal
    warn_share: Decimal
