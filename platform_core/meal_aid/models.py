"""Meal points (sites of the service-site registry), their menus, elders' bookings and the
monthly settlement per point."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow
from platform_core.sites.models import ServiceSite
from platform_core.sites.vocabulary import SiteKind

Money = Numeric(12, 2)


class MealPoint(ServiceSite):
    """助餐点: a service site that cooks or serves meals for elders.

    A site of the registry (``service_sites``: name, region, address, position, hours,
    operator, status); its meal-aid details are this table's, under the same id.
    """

    __tablename__ = "meal_points"

    id: Mapped[int] = mapped_column(
        ForeignKey("service_sites.id", ondelete="CASCADE"), primary_key=True
    )
    # meal -> serving time "HH:MM" local, e.g. {"lunch": "11:30", "dinner": "17:30"}
    meal_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    delivers: Mapped[bool] = mapped_column(Boolean, default=False)

    __mapper_args__ = {"polymorphic_identity": "meal_point"}

    def __init__(self, **values: Any) -> None:
        values.setdefault("kind", SiteKind.MEAL_POINT.value)
        super().__init__(**values)


class MealMenu(Base):
    """What one point serves at one meal of one day, at what price, for how many."""

    __tablename__ = "meal_menus"
    __table_args__ = (UniqueConstraint("meal_point_id", "served_on", "meal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id", ondelete="CASCADE"))
    served_on: Mapped[date] = mapped_column(Date)
    meal: Mapped[str] = mapped_column(String(10))  # breakfast, lunch, dinner
    dishes: Mapped[str] = mapped_column(String(255))
    price: Mapped[Decimal] = mapped_column(Money)
    capacity: Mapped[int | None]


class MealBooking(Base):
    __tablename__ = "meal_bookings"
    __table_args__ = (
        # One live booking per elder and meal: a second one is a mistake or a double subsidy.
        Index(
            "uq_meal_bookings_live",
            "elder_id",
            "served_on",
            "meal",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
            sqlite_where=text("status <> 'cancelled'"),
        ),
        Index("ix_meal_bookings_point_day", "meal_point_id", "served_on"),
        # the code the elder gives at the point (today's bookings of a point are looked up by it)
        Index("ix_meal_bookings_point_day_code", "meal_point_id", "served_on", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    menu_id: Mapped[int] = mapped_column(ForeignKey("meal_menus.id"))
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    served_on: Mapped[date] = mapped_column(Date)
    meal: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10))  # dine_in, delivery
    # six digits, unique among the point's bookings of the day: said at the counter instead of
    # showing the ID card first (the card is still checked)
    code: Mapped[str | None] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(10))  # hotline, family, point
    status: Mapped[str] = mapped_column(
        String(10), default="booked"
    )  # booked, cancelled, redeemed, no_show
    price: Mapped[Decimal] = mapped_column(Money)
    subsidy: Mapped[Decimal] = mapped_column(Money)
    self_pay: Mapped[Decimal] = mapped_column(Money)
    subsidy_category: Mapped[str | None] = mapped_column(String(30))
    capped_by: Mapped[str | None] = mapped_column(String(20))  # daily_meals, monthly_cap, price
    # A delivery is a service order (platform_core.orders); dine-in meals have none.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("service_orders.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64))  # the call the booking came from
    delivery_address: Mapped[str | None] = mapped_column(String(255))
    booked_by: Mapped[str] = mapped_column(String(64))
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
    redeemed_at: Mapped[datetime | None]
    redeemed_by: Mapped[str | None] = mapped_column(String(64))
    identity_method: Mapped[str | None] = mapped_column(String(12))
    cancelled_reason: Mapped[str | None] = mapped_column(String(200))
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("meal_settlements.id"))


class MealSettlement(Base):
    """One point's month: redeemed meals and what public money owes for them."""

    __tablename__ = "meal_settlements"
    __table_args__ = (UniqueConstraint("meal_point_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meal_point_id: Mapped[int] = mapped_column(ForeignKey("meal_points.id"))
    month: Mapped[date] = mapped_column(Date)  # first day
    meals: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Money)
    subsidy: Mapped[Decimal] = mapped_column(Money)
    self_pay: Mapped[Decimal] = mapped_column(Money)
    settled_by: Mapped[str] = mapped_column(String(64))
    settled_at: Mapped[datetime] = mapped_column(default=utcnow)
