"""What one programme has spent and committed: the shape every programme module reports."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Spending:
    """Money of one programme, one region and one year, 元.

    ``spent``: paid out (settled). ``committed``: promised and not yet paid (drawn by orders
    not yet settled, contracts running, plans signed, meals booked or eaten and not yet
    settled). Each programme module says exactly what it counts (README, Care money).
    """

    spent: Decimal = ZERO
    committed: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.spent + self.committed
