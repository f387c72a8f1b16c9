"""The service-site registry (社区服务场所) and day care attendance (日间照料).

Community and street stations, day care centres and meal points are rows of one table,
``service_sites``. A meal point is a site whose meal-aid details live in ``meal_points`` (same
primary key: :class:`platform_core.meal_aid.models.MealPoint` maps both), so the registry lists
it beside the others and meal aid keeps its menus, bookings and settlements on it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    case,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.accounts import models as _accounts  # noqa: F401 - users, for the FKs
from platform_core.db import Base, utcnow
from platform_core.elders import models as _elders  # noqa: F401 - elders, for the FKs


class ServiceSite(Base):
    """One place where services happen: its address and position, opening hours, capacity,
    what it offers, its operator and whether it is open."""

    __tablename__ = "service_sites"
    __table_args__ = (
        Index(
            "ix_service_sites_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # The community or township the site stands in; its 盟市 scopes who sees it.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    address: Mapped[str] = mapped_column(String(255))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    phone: Mapped[str | None] = mapped_column(String(20))
    # ISO weekday ("1" Monday .. "7" Sunday) -> ["HH:MM", "HH:MM"]; a missing day is closed.
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Places at once (day care seats, dining places); None: not limited.
    capacity: Mapped[int | None]
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The organisation that runs the site, when a provider does (公建民营).
    provider_id: Mapped[int | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # A meal point loads as meal aid's MealPoint; every other kind as a plain site.
    __mapper_args__ = {
        "polymorphic_on": case((kind == "meal_point", "meal_point"), else_="site"),
        "polymorphic_identity": "site",
    }

    @hybrid_property
    def active(self) -> bool:
        """Open for service (meal aid's old ``active`` flag)."""
        return self.status == "open"

    @active.inplace.expression
    @classmethod
    def _active_expression(cls) -> Any:
        return cls.status == "open"


class SiteStaff(Base):
    """Someone who works at a site; ``user_id`` links the staff member's console account (a
    site manager's login sees and runs the sites they manage)."""

    __tablename__ = "site_staff"
    __table_args__ = (UniqueConstraint("site_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(
        ForeignKey("service_sites.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    post: Mapped[str] = mapped_column(String(30))
    phone: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    manages: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class SitePhoto(Base):
    """A photo of the premises, kept under the data directory with its SHA-256."""

    __tablename__ = "site_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(
        ForeignKey("service_sites.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    caption: Mapped[str] = mapped_column(String(100), default="")
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class DayCareEnrolment(Base):
    """An elder who comes to a day care centre: on which weekdays, since when, and the
    family's code (only its keyed hash) that checks the elder in and out."""

    __tablename__ = "daycare_enrolments"
    __table_args__ = (
        Index(
            "uq_daycare_enrolments_live",
            "site_id",
            "elder_id",
            unique=True,
            postgresql_where=text("ended_on IS NULL"),
            sqlite_where=text("ended_on IS NULL"),
        ),
        Index("ix_daycare_enrolments_code", "site_id", "family_code_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("service_sites.id", ondelete="CASCADE"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the elder's
    weekdays: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    family_code_index: Mapped[str | None] = mapped_column(String(64))
    family_code_issued_at: Mapped[datetime | None]
    enrolled_by: Mapped[str] = mapped_column(String(100))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)


class DayCareAttendance(Base):
    """One elder's day at a day care centre: in and out, when, how and by whom."""

    __tablename__ = "daycare_attendance"
    __table_args__ = (
        UniqueConstraint("site_id", "elder_id", "day"),
        Index("ix_daycare_attendance_site_day", "site_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("service_sites.id", ondelete="CASCADE"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("daycare_enrolments.id"))
    region_code: Mapped[str] = mapped_column(String(12))  # the elder's
    day: Mapped[date] = mapped_column(Date)  # the hotline's local date
    checked_in_at: Mapped[datetime]
    check_in_method: Mapped[str] = mapped_column(String(12))
    checked_in_by: Mapped[str] = mapped_column(String(100))
    checked_out_at: Mapped[datetime | None]
    check_out_method: Mapped[str | None] = mapped_column(String(12))
    checked_out_by: Mapped[str | None] = mapped_column(String(100))
    # a check-in past the site's capacity is allowed only with the reason the staff give
    over_capacity_reason: Mapped[str | None] = mapped_column(String(200))
