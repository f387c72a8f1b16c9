"""Service types and their terms: a region-wide default per type, overridden per 盟市.

Prices, SLAs and subsidy rules differ between leagues, so they live in tables an administrator
edits, never in code. A missing override means "use the region-wide default".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow

Money = Numeric(12, 2)


class ServiceCategory(StrEnum):
    EMERGENCY = "emergency"  # 紧急救援
    DAILY_CARE = "daily_care"  # 生活照料
    MEALS = "meals"  # 助餐
    MEDICAL = "medical"  # 助医
    COMFORT = "comfort"  # 精神慰藉
    CONSULTATION = "consultation"  # 咨询
    COMPLAINT = "complaint"  # 投诉/建议
    PROACTIVE_CARE = "proactive_care"  # 主动关怀
    VISIT = "visit"  # 探访关爱


CATEGORY_LABELS: dict[str, str] = {
    ServiceCategory.EMERGENCY: "紧急救援",
    ServiceCategory.DAILY_CARE: "生活照料",
    ServiceCategory.MEALS: "助餐",
    ServiceCategory.MEDICAL: "助医",
    ServiceCategory.COMFORT: "精神慰藉",
    ServiceCategory.CONSULTATION: "咨询",
    ServiceCategory.COMPLAINT: "投诉/建议",
    ServiceCategory.PROACTIVE_CARE: "主动关怀",
    ServiceCategory.VISIT: "探访关爱",
}


class Fulfilment(StrEnum):
    """Who delivers the service: a provider dispatched to the elder, or the hotline itself
    (a consultation answered on the call needs no dispatch)."""

    PROVIDER = "provider"
    HOTLINE = "hotline"


class SubsidyKind(StrEnum):
    PERCENT = "percent"  # value is a percentage of the order amount
    FIXED = "fixed"  # value is an amount per unit (次, 小时, 餐)


class ServiceType(Base):
    """A service of the 12349 catalogue with its region-wide default price and SLA."""

    __tablename__ = "service_types"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20), index=True)
    unit: Mapped[str] = mapped_column(String(10), default="次")
    price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # Minutes from the order's opening until the provider must respond (accept).
    response_minutes: Mapped[int]
    # Minutes from opening until someone must be at the elder's home; None when nobody goes.
    arrival_minutes: Mapped[int | None]
    fulfilment: Mapped[str] = mapped_column(String(10), default=Fulfilment.PROVIDER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeagueServiceTerms(Base):
    """One league's override of a service type's price or SLA (None keeps the default)."""

    __tablename__ = "service_league_terms"
    __table_args__ = (UniqueConstraint("league_code", "service_type_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    league_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    service_type_code: Mapped[str] = mapped_column(ForeignKey("service_types.code"))
    price: Mapped[Decimal | None] = mapped_column(Money)
    response_minutes: Mapped[int | None]
    arrival_minutes: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class SubsidyRule(Base):
    """How much of an order public money pays for an elder of one category.

    ``league_code`` None is the region-wide default; ``service_type_code`` None covers every
    service type. The most specific rule of a category wins (see ``service.rules_for``).
    """

    __tablename__ = "subsidy_rules"
    __table_args__ = (Index("ix_subsidy_rules_lookup", "elder_category", "league_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    league_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    service_type_code: Mapped[str | None] = mapped_column(ForeignKey("service_types.code"))
    elder_category: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[Decimal] = mapped_column(Money)
    per_order_cap: Mapped[Decimal | None] = mapped_column(Money)
    monthly_cap: Mapped[Decimal | None] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
