"""Settlements (结算单): per provider and month, the orders it includes, each settled once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow

Money = Numeric(12, 2)


class Settlement(Base):
    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("provider_id", "month", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    month: Mapped[str] = mapped_column(String(7))
    # a month settled again (late return visits) gets a further statement
    seq: Mapped[int] = mapped_column(default=1)
    order_count: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Money)
    subsidy: Mapped[Decimal] = mapped_column(Money)
    self_pay: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))

    lines: Mapped[list[SettlementLine]] = relationship(
        back_populates="settlement", cascade="all, delete-orphan", order_by="SettlementLine.id"
    )


class SettlementLine(Base):
    __tablename__ = "settlement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(
        ForeignKey("settlements.id", ondelete="CASCADE"), index=True
    )
    # an order is settled once, whatever statement it went into
    order_id: Mapped[int] = mapped_column(ForeignKey("service_orders.id"), unique=True)
    order_no: Mapped[str] = mapped_column(String(20))
    service_type_code: Mapped[str] = mapped_column(String(40))
    service_name: Mapped[str] = mapped_column(String(40))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    completed_at: Mapped[datetime]
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    unit: Mapped[str] = mapped_column(String(10))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    subsidy: Mapped[Decimal] = mapped_column(Money)
    self_pay: Mapped[Decimal] = mapped_column(Money)
    subsidy_category: Mapped[str | None] = mapped_column(String(30))

    settlement: Mapped[Settlement] = relationship(back_populates="lines")
