"""Volunteers (志愿者), the activities sites publish and who signs up for them.

A volunteer's ID number is sealed with a keyed index (one person, one registration) and shown
masked; the phone is proved by a texted code at registration.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.accounts import models as _accounts  # noqa: F401 - users, for the FKs
from platform_core.db import Base, utcnow
from platform_core.sites import models as _sites  # noqa: F401 - service_sites, for the FKs
from platform_core.time_bank import models as _time_bank  # noqa: F401 - transactions, for the FKs
from platform_core.verification import models as _verification  # noqa: F401 - for the FKs


class Volunteer(Base):
    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    id_number_sealed: Mapped[str] = mapped_column(Text)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    sex: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    home_site_id: Mapped[int] = mapped_column(ForeignKey("service_sites.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active, suspended
    # the real-name check: the ID card seen by whom, the phone proved by which texted code
    id_checked_by: Mapped[str] = mapped_column(String(100))
    phone_verification_id: Mapped[int] = mapped_column(ForeignKey("phone_verifications.id"))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class Activity(Base):
    """Something a site needs volunteers for: when, where, how many, how many hours."""

    __tablename__ = "volunteer_activities"
    __table_args__ = (
        Index(
            "ix_volunteer_activities_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("service_sites.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the site's
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    skill: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    places: Mapped[int]
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))  # credited per volunteer who served
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    status: Mapped[str] = mapped_column(String(10), default="published")
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActivitySignup(Base):
    __tablename__ = "activity_signups"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_activities.id", ondelete="CASCADE"), index=True
    )
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="signed_up")
    signed_up_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_in_at: Mapped[datetime | None]
    check_in_latitude: Mapped[float | None]
    check_in_longitude: Mapped[float | None]
    check_in_distance_m: Mapped[int | None]
    hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None]
    time_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("time_transactions.id"))
