"""A family care bed (家庭养老床位) case, its steps, the services delivered and monthly settlements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow
from platform_core.step_chain import StepRow

Money = Numeric(12, 2)


class CareBed(Base):
    __tablename__ = "care_beds"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    # Elders at one address share a household's subsidy cap.
    household_key: Mapped[str] = mapped_column(String(300), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(12))  # application, referral
    call_id: Mapped[str | None] = mapped_column(String(64))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    grade: Mapped[str | None] = mapped_column(String(10))
    provider_id: Mapped[int | None]
    contract_no: Mapped[str | None] = mapped_column(String(40))
    contract_starts_on: Mapped[date | None] = mapped_column(Date)
    contract_ends_on: Mapped[date | None] = mapped_column(Date)
    home_adaptation_id: Mapped[int | None]
    devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{"service_type_code": "care_bathing", "times_per_month": 4}, ...]
    service_plan: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    withdrawal_reason: Mapped[str | None] = mapped_column(String(20))
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[CareBedStep]] = relationship(
        cascade="all, delete-orphan", order_by="CareBedStep.id"
    )


class CareBedStep(StepRow, Base):
    __tablename__ = "care_bed_steps"

    care_bed_id: Mapped[int] = mapped_column(
        ForeignKey("care_beds.id", ondelete="CASCADE"), index=True
    )


class CareBedService(Base):
    """One service or visit delivered under the plan, as the service order that carried it."""

    __tablename__ = "care_bed_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    care_bed_id: Mapped[int] = mapped_column(
        ForeignKey("care_beds.id", ondelete="CASCADE"), index=True
    )
    service_type_code: Mapped[str] = mapped_column(String(40))
    on: Mapped[date] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(unique=True)
    is_visit: Mapped[bool] = mapped_column(default=False)
    recorded_by: Mapped[str] = mapped_column(String(64))


class CareBedSettlement(Base):
    __tablename__ = "care_bed_settlements"
    __table_args__ = (UniqueConstraint("care_bed_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    care_bed_id: Mapped[int] = mapped_column(
        ForeignKey("care_beds.id", ondelete="CASCADE"), index=True
    )
    household_key: Mapped[str] = mapped_column(String(300), index=True)
    month: Mapped[date] = mapped_column(Date)
    services: Mapped[int]
    subsidy: Mapped[Decimal] = mapped_column(Money)
    settled_by: Mapped[str] = mapped_column(String(64))
    settled_at: Mapped[datetime] = mapped_column(default=utcnow)
