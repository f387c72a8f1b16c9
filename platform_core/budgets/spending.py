"""What one programme has spent and committed: the shape every programme module reports."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


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


def league_key(code: str) -> str:
    """The 盟市 a region code lies in, as the money is grouped by (a 12-digit code)."""
    return code[:4].ljust(12, "0")


def add(
    into: dict[str, Spending], league: str, *, spent: object = 0, committed: object = 0
) -> None:
    """Add money to a league's line of a by-league table."""
    key = league_key(league)
    was = into.get(key, Spending())
    into[key] = Spending(
        spent=(was.spent + Decimal(str(spent or 0))).quantize(CENT),
        committed=(was.committed + Decimal(str(committed or 0))).quantize(CENT),
    )


def total(by_league: dict[str, Spending]) -> Spending:
    return Spending(
        spent=sum((s.spent for s in by_league.values()), ZERO),
        committed=sum((s.committed for s in by_league.values()), ZERO),
    )
