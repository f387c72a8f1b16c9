"""The money of the care programmes against their budgets (the bureau's money page).

Each programme module reports what it spent and committed in a region and year
(``<module>.service.spending_by_league``); the budgets module holds what the bureau planned. This flow
sets them side by side per 盟市 and programme and flags a programme whose spent and committed
money pass the warning share of its budget, once per crossing (an event and ``warned_at``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.budgets import service as budgets
from platform_core.budgets.events import CareBudgetWarning
from platform_core.budgets.models import CareBudget
from platform_core.budgets.spending import Spending, total
from platform_core.care_beds import service as care_beds
from platform_core.db import utcnow
from platform_core.events import publish_on_commit
from platform_core.gov_purchase import service as gov_purchase
from platform_core.home_adaptation import service as home_adaptation
from platform_core.meal_aid import service as meal_aid
from platform_core.regions import codes
from platform_core.regions.service import find_region, list_leagues
from platform_core.runtime import current_runtime, settings_of

SPENDING: dict[str, Callable[..., dict[str, Spending]]] = {
    "gov_purchase": gov_purchase.spending_by_league,
    "care_beds": care_beds.spending_by_league,
    "home_adaptation": home_adaptation.spending_by_league,
    "meal_aid": meal_aid.spending_by_league,
}


@dataclass(frozen=True)
class BudgetLine:
    """One programme of one region in one year: the budget (if set) and the money against it."""

    region_code: str
    region_name: str
    programme: str
    programme_label: str
    year: int
    budget: Decimal | None
    spent: Decimal
    committed: Decimal
    warn_share: Decimal | None

    @property
    def used_share(self) -> Decimal | None:
        if not self.budget:
            return None
        return ((self.spent + self.committed) / self.budget).quantize(Decimal("0.001"))

    @property
    def remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.spent - self.committed

    @property
    def warning(self) -> bool:
        share = self.used_share
        return share is not None and self.warn_share is not None and share >= self.warn_share


def _regions_of(session: Session, scope: str) -> list[str]:
    """Where budgets are kept for a user of ``scope``: the region and each of its leagues (a
    province user), their league (a league user), or only their own area below a league (its
    money without a budget: budgets are per league)."""
    if codes.level_of(scope) == 1:
        return [scope] + [r.code for r in list_leagues(session) if codes.is_within(r.code, scope)]
    return [scope]


def budget_lines(session: Session, *, region_code: str, year: int) -> list[BudgetLine]:
    """Every programme of every league in ``region_code`` for ``year``."""
    scope = codes.normalize_code(region_code)
    by_key = {
        (b.league_code, b.programme): b
        for b in budgets.list_budgets(session, region_code=scope, year=year)
    }
    # each programme's money read once for the whole scope, grouped by league
    money = {p: fn(session, region_code=scope, year=year) for p, fn in SPENDING.items()}
    lines = []
    for code in _regions_of(session, scope):
        region = find_region(session, code)
        for programme, label in budgets.PROGRAMMES.items():
            by_league = money[programme]
            if codes.level_of(code) == 2:
                spent = by_league.get(code, Spending())
            else:  # the region's own line, or a user's area below a league: all of it
                spent = total(by_league)
            budget = by_key.get((code, programme)) if codes.level_of(code) <= 2 else None
            lines.append(
                BudgetLine(
                    region_code=code,
                    region_name=region.name if region else code,
                    programme=programme,
                    programme_label=label,
                    year=year,
                    budget=budget.amount if budget else None,
                    spent=spent.spent,
                    committed=spent.committed,
                    warn_share=budgets.warn_share_of(session, budget) if budget else None,
                )
            )
    return lines


def check_budget_warnings(
    session: Session, *, year: int, now: datetime | None = None
) -> list[BudgetLine]:
    """Flag each budget of ``year`` that newly passed its warning share: ``warned_at`` is set
    and one CareBudgetWarning published; a budget back under its share may warn again."""
    warned = []
    rows: list[CareBudget] = budgets.list_budgets(
        session, region_code=settings_of(session).home_region_code, year=year
    )
    for row in rows:
        money = total(SPENDING[row.programme](session, region_code=row.league_code, year=year))
        share = budgets.warn_share_of(session, row)
        over = bool(row.amount) and (money.total / row.amount) >= share
        if over and row.warned_at is None:
            row.warned_at = now or utcnow()
            publish_on_commit(
                session,
                CareBudgetWarning(
                    region_code=row.league_code,
                    programme=row.programme,
                    year=year,
                    amount=row.amount,
                    spent=money.spent,
                    committed=money.committed,
                    warn_share=share,
                ),
            )
            region = find_region(session, row.league_code)
            warned.append(
                BudgetLine(
                    row.league_code,
                    region.name if region else row.league_code,
                    row.programme,
                    budgets.PROGRAMMES[row.programme],
                    year,
                    row.amount,
                    money.spent,
                    money.committed,
                    share,
                )
            )
        elif not over and row.warned_at is not None:
            row.warned_at = None
    session.flush()
    return warned


def warn_budgets() -> int:
    """Daily job: flag the programmes of this year that passed their warning share."""
    rt = current_runtime()
    with rt.session() as s:
        return len(check_budget_warnings(s, year=clock.today(rt.settings.timezone).year))
