"""The time bank's double-entry ledger (志愿者时间银行).

Every movement of hours is one transaction of two or more entries whose amounts sum to zero:
hours are never created or lost, only moved between accounts. Members' accounts (a volunteer's,
an elder's) hold hours; each 盟市 has three accounts of its own: ``issuance`` (where earned
hours come from: its balance is minus every hour ever earned there), ``redeemed`` (hours spent
on services) and ``pool`` (the community pool: hours earned past a member's cap, donated). A
member's ``balance`` is kept beside the entries (updated under the account's row lock) and is
always the sum of its entries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow

Hours = Numeric(10, 2)


class TimeAccount(Base):
    __tablename__ = "time_accounts"
    __table_args__ = (UniqueConstraint("kind", "holder_id", "league_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # member_volunteer, member_elder, issuance, redeemed, pool
    kind: Mapped[str] = mapped_column(String(20))
    # the volunteer's or the elder's id (0 for the league's own accounts)
    holder_id: Mapped[int] = mapped_column(default=0)
    league_code: Mapped[str] = mapped_column(String(12), index=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the holder's
    balance: Mapped[Decimal] = mapped_column(Hours, default=Decimal("0.00"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimeTransaction(Base):
    __tablename__ = "time_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # earn, transfer, redeem, refund, reverse
    kind: Mapped[str] = mapped_column(String(10), index=True)
    # what made it, once: "earn:signup:12", "redeem:order:7", a client's key for a transfer
    key: Mapped[str] = mapped_column(String(80), unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    memo: Mapped[str] = mapped_column(String(200), default="")
    ref_type: Mapped[str | None] = mapped_column(String(20))
    ref_id: Mapped[str | None] = mapped_column(String(40))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("time_transactions.id"))

    entries: Mapped[list[TimeEntry]] = relationship(
        back_populates="transaction", order_by="TimeEntry.id", lazy="selectin"
    )


class TimeEntry(Base):
    __tablename__ = "time_entries"
    __table_args__ = (Index("ix_time_entries_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("time_transactions.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("time_accounts.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Hours)  # + credit, - debit

    transaction: Mapped[TimeTransaction] = relationship(back_populates="entries")
