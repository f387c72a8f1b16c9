"""What the bureau budgets for each care programme, per 盟市 and calendar year."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow

Money = Numeric(14, 2)


class CareBudget(Base):
    """One programme's budget of one league (or, for the province code, the region's own) for
    one year. What was spent and what is committed against it is read from the programmes'
    own records (``platform_core.flows.care_money``), never stored here."""

    __tablename__ = "care_budgets"
    __table_args__ = (UniqueConstraint("programme", "league_code", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme: Mapped[str] = mapped_column(String(20))  # gov_purchase, care_beds, ...
    league_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    year: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Money)
    # The share of the budget (0-1) past which the programme is flagged; None: the league's
    # BudgetPolicy.warn_share.
    warn_share: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    set_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When the programme was last found past its warning share (one warning per crossing).
    warned_at: Mapped[datetime | None]
