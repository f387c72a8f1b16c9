"""A home-adaptation case, its planned items with before/after photos, and its steps."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow
from platform_core.step_chain import StepRow

Money = Numeric(12, 2)


class AdaptationCase(Base):
    __tablename__ = "home_adaptation_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    household_key: Mapped[str] = mapped_column(String(300), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(12), default="application")
    call_id: Mapped[str | None] = mapped_column(String(64))
    eligibility_basis: Mapped[str | None] = mapped_column(String(100))
    home_findings: Mapped[str | None] = mapped_column(Text)
    signer_name: Mapped[str | None] = mapped_column(String(64))
    signer_relation: Mapped[str | None] = mapped_column(String(20))
    provider_id: Mapped[int | None]
    subsidy: Mapped[Decimal | None] = mapped_column(
        Money
    )  # basic items' total, fixed at settlement
    self_paid: Mapped[Decimal | None] = mapped_column(Money)
    satisfaction: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[AdaptationItem]] = relationship(
        cascade="all, delete-orphan", order_by="AdaptationItem.id"
    )
    steps: Mapped[list[AdaptationStep]] = relationship(
        cascade="all, delete-orphan", order_by="AdaptationStep.id"
    )


class AdaptationItem(Base):
    """One planned change: a basic (subsidised) item or an optional self-paid one."""

    __tablename__ = "home_adaptation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("home_adaptation_cases.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    basic: Mapped[bool] = mapped_column(Boolean)
    cost: Mapped[Decimal] = mapped_column(Money)
    before_photo: Mapped[str | None] = mapped_column(String(255))
    before_sha256: Mapped[str | None] = mapped_column(String(64))
    after_photo: Mapped[str | None] = mapped_column(String(255))
    after_sha256: Mapped[str | None] = mapped_column(String(64))


class AdaptationStep(StepRow, Base):
    __tablename__ = "home_adaptation_steps"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("home_adaptation_cases.id", ondelete="CASCADE"), index=True
    )
