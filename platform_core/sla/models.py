"""SLA breaches (超时): one row per order and kind, written when its timer finds it missed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class SlaBreach(Base):
    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("service_orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # response / arrival
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    service_type_code: Mapped[str] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(10))
    # The provider that held the order when the deadline passed (None: nobody had it).
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    due_at: Mapped[datetime]
    detected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Where the order stood, and what the breach led to.
    status_at_breach: Mapped[str] = mapped_column(String(20))
    escalated: Mapped[bool] = mapped_column(default=False)
    redispatched: Mapped[bool] = mapped_column(default=False)
    # Met late: the step happened after the deadline, while no timer was running.
    late_by_minutes: Mapped[float | None]
