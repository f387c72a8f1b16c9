"""Government-purchased services: per-league care policy, applications, notices, allowances."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow
from platform_core.step_chain import StepRow

Money = Numeric(12, 2)


class GovPurchaseApplication(Base):
    """An elder's application for government-purchased home-care services (one chain)."""

    __tablename__ = "gov_purchase_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    applicant_name: Mapped[str] = mapped_column(String(64))
    applicant_relation: Mapped[str] = mapped_column(String(20))  # 本人, 子女, 配偶, 村(居)委会 ...
    applied_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(20), default="counter")  # counter, call, referral
    call_id: Mapped[str | None] = mapped_column(String(64))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    publicity_starts_on: Mapped[date | None] = mapped_column(Date)
    publicity_ends_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    monthly_allowance: Mapped[Decimal | None] = mapped_column(Money)
    allowance_from: Mapped[date | None] = mapped_column(Date)  # first day of the first month
    allowance_until: Mapped[date | None] = mapped_column(Date)  # last day of the last month
    closing_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[GovPurchaseStep]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="GovPurchaseStep.id"
    )
    notices: Mapped[list[GovPurchaseNotice]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="GovPurchaseNotice.id"
    )


class GovPurchaseStep(StepRow, Base):
    """One move of the chain: which step, when, by whom, why."""

    __tablename__ = "gov_purchase_steps"
    status_length = 24

    application_id: Mapped[int] = mapped_column(
        ForeignKey("gov_purchase_applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[GovPurchaseApplication] = relationship(back_populates="steps")


class GovPurchaseNotice(Base):
    """The notice issued to the applicant at a step (受理通知书, 补正通知书, 公示, 决定书 ...)."""

    __tablename__ = "gov_purchase_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("gov_purchase_applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(64))

    application: Mapped[GovPurchaseApplication] = relationship(back_populates="notices")


class ServiceAllowance(Base):
    """One approved elder's service allowance for one month, drawn down by service orders."""

    __tablename__ = "service_allowances"
    __table_args__ = (UniqueConstraint("elder_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("gov_purchase_applications.id", ondelete="CASCADE")
    )
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    month: Mapped[date] = mapped_column(Date)  # first day of the month
    granted: Mapped[Decimal] = mapped_column(Money)
    consumed: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class AllowanceCharge(Base):
    """What one service order drew from an allowance; one live charge per order."""

    __tablename__ = "allowance_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    allowance_id: Mapped[int] = mapped_column(
        ForeignKey("service_allowances.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    charged_at: Mapped[datetime] = mapped_column(default=utcnow)
    charged_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None]


class AllowanceRun(Base):
    """The monthly run of one region's allowances: every approved elder's month opened and put
    in line with the orders, a batch at a time, its progress kept here."""

    __tablename__ = "allowance_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    month: Mapped[date] = mapped_column(Date)  # first day
    status: Mapped[str] = mapped_column(
        String(10), default="queued"
    )  # queued, running, done, failed
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    opened: Mapped[int] = mapped_column(default=0)  # allowances opened by this run
    charged: Mapped[int] = mapped_column(default=0)  # orders that drew on them
    released: Mapped[int] = mapped_column(default=0)  # cancelled orders' charges given back
    # the last elder done: a run picked up again (worker restart) goes on from there
    cursor_elder_id: Mapped[int] = mapped_column(default=0)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(String(255), default="")
