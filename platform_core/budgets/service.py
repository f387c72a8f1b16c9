"""Setting and reading care budgets.

A budget is the bureau's plan for one programme, one 盟市 (or the region as a whole, under the
province code) and one calendar year. Officers and administrators set them for their own region
and below; each change is audited. Spending is not kept here: each programme module reports its
own spent and committed money, and ``platform_core.flows.care_money`` sets them side by side.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.budgets.events import CareBudgetSet
from platform_core.budgets.models import CareBudget
from platform_core.budgets.policy import BudgetPolicy
from platform_core.care_policy.service import policy_for
from platform_core.errors import PermissionDenied, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.regions.service import get_region, require_within, within

# The programmes that spend public money, in the order the money page lists them.
PROGRAMMES: dict[str, str] = {
    "gov_purchase": "政府购买服务",
    "care_beds": "家庭养老床位",
    "home_adaptation": "适老化改造",
    "meal_aid": "助餐",
}
SETTERS = frozenset({Role.OFFICER, Role.ADMIN})
CENT = Decimal("0.01")


class InvalidBudget(ValidationFailed):
    code = "invalid_care_budget"


def _amount(raw: Decimal | str | int, what: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidBudget(f"{what} {raw!r} 不是金额 / not an amount") from exc
    if not value.is_finite() or value < 0:
        raise InvalidBudget(f"{what} 不能为负 / must not be negative")
    return value.quantize(CENT)


def set_budget(
    session: Session,
    *,
    actor: Actor,
    programme: str,
    league_code: str,
    year: int,
    amount: Decimal | str | int,
    warn_share: Decimal | str | None = None,
) -> CareBudget:
    """Set (or change) one programme's budget of a league (or of the region) for ``year``."""
    if actor.role not in SETTERS or actor.provider_id is not None:
        raise PermissionDenied("只有民政监管人员可以设定预算 / only officers set budgets")
    if programme not in PROGRAMMES:
        raise InvalidBudget(
            f"未知项目 {programme} (可选: {'、'.join(f'{k}={v}' for k, v in PROGRAMMES.items())}) "
            "/ unknown programme",
            allowed=list(PROGRAMMES),
        )
    code = codes.normalize_code(league_code)
    if codes.level_of(code) > 2:
        raise InvalidBudget(f"预算按盟市或全区设定, {code} 不是盟市 / budgets are set per league")
    if not 2000 <= year <= 2100:
        raise InvalidBudget(f"年度 {year} 不合理 / implausible year")
    require_within(code, actor.region_code)
    get_region(session, code)
    value = _amount(amount, "预算金额")
    share = None
    if warn_share is not None and str(warn_share).strip() != "":
        share = _amount(warn_share, "预警比例").quantize(Decimal("0.001"))
        if not Decimal("0") < share <= Decimal("1"):
            raise InvalidBudget("预警比例应在 0 到 1 之间 (如 0.8) / warning share from 0 to 1")
    row = session.scalar(
        select(CareBudget).where(
            CareBudget.programme == programme,
            CareBudget.league_code == code,
            CareBudget.year == year,
        )
    )
    before = None
    if row is None:
        row = CareBudget(programme=programme, league_code=code, year=year)
        session.add(row)
    else:
        before = {"amount": str(row.amount), "warn_share": _plain(row.warn_share)}
    row.amount, row.warn_share, row.set_by = value, share, actor.name
    row.warned_at = None  # a new amount is judged afresh
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="care_budget.set",
        target_type="care_budget",
        target_id=f"{code}/{programme}/{year}",
        detail={"amount": str(value), "warn_share": _plain(share), "before": before},
    )
    publish_on_commit(session, CareBudgetSet(code, programme, year, value))
    return row


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def list_budgets(session: Session, *, region_code: str, year: int) -> list[CareBudget]:
    """The budgets of ``year`` set for the region's leagues (and the region itself when it is
    the province), and for the league a league officer belongs to."""
    scope = codes.normalize_code(region_code)
    league = codes.league_of(scope) if codes.level_of(scope) >= 2 else scope
    q = select(CareBudget).where(CareBudget.year == year).order_by(CareBudget.league_code)
    if codes.level_of(scope) <= 1:
        q = q.where(within(CareBudget.league_code, scope))
    else:
        q = q.where(CareBudget.league_code == league)
    return list(session.scalars(q))


def warn_share_of(session: Session, budget: CareBudget) -> Decimal:
    """The share past which this budget is flagged: its own, else the league's policy."""
    if budget.warn_share is not None:
        return Decimal(budget.warn_share)
    return Decimal(policy_for(session, BudgetPolicy, region_code=budget.league_code).warn_share)
