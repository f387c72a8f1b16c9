"""What a 盟市 configures about its care budgets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar


@dataclass(frozen=True)
class BudgetPolicy:
    section: ClassVar[str] = "budgets"

    # A programme whose spent and committed money pass this share of its budget is flagged on
    # the money page (and once on the console's event stream). A budget may set its own.
    warn_share: Decimal = Decimal("0.8")
