"""Provider evaluations (服务商评估) and the credit events (诚信记录) that feed them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class CreditEvent(Base):
    """A commendation (+) or a violation (-) on a provider's record, with its points."""

    __tablename__ = "provider_credit_events"
    __table_args__ = (Index("ix_provider_credit_events_provider_at", "provider_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    points: Mapped[float] = mapped_column(Numeric(5, 1, asdecimal=False))
    reason: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("service_orders.id"))
    recorded_by: Mapped[str] = mapped_column(String(80))


class ProviderEvaluation(Base):
    """One evaluation of one provider over a period: the measures, the score, the grade and the
    status it led to (applied, or only proposed when too few orders)."""

    __tablename__ = "provider_evaluations"
    __table_args__ = (
        Index("ix_provider_evaluations_provider_period", "provider_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    period_label: Mapped[str] = mapped_column(String(20))  # "2025-03", or a date range on demand
    kind: Mapped[str] = mapped_column(String(10))  # monthly / on_demand
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parts: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Numeric(5, 1, asdecimal=False))
    grade: Mapped[str] = mapped_column(String(1))
    credit_score: Mapped[float] = mapped_column(Numeric(5, 1, asdecimal=False))
    grade_before: Mapped[str] = mapped_column(String(1))
    status_before: Mapped[str] = mapped_column(String(12))
    status_proposed: Mapped[str] = mapped_column(String(12))
    status_after: Mapped[str] = mapped_column(String(12))
    applied: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
