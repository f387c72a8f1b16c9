"""Social workers, their cases and each case's steps and visits.

What a case holds about the elder's life (the referral's reason, the needs assessment, the
plan, the visit notes) is sensitive personal information: it is sealed with the data key and
read in clear only by the case's worker and the region's supervising officers, each reading
audited.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.accounts import models as _accounts  # noqa: F401 - users, for the FKs
from platform_core.db import Base, utcnow
from platform_core.elders import models as _elders  # noqa: F401 - elders, for the FKs
from platform_core.step_chain import StepRow


class SocialWorker(Base):
    """A social worker's profile beside their console account: where they work, for whom,
    their qualification and how many cases they carry at most."""

    __tablename__ = "social_workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12), index=True)  # the area they serve
    organisation: Mapped[str] = mapped_column(String(100), default="")
    qualification: Mapped[str] = mapped_column(String(20), default="none")
    max_caseload: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SocialCase(Base):
    """One elder's case: referred, taken in, assessed, planned, visited, reviewed, closed."""

    __tablename__ = "social_cases"
    __table_args__ = (
        Index(
            "ix_social_cases_region_prefix",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
        Index("ix_social_cases_worker_status", "worker_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(20), unique=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the elder's: scopes who sees it
    status: Mapped[str] = mapped_column(String(12), index=True)
    urgency: Mapped[str] = mapped_column(String(8), default="normal")  # normal, urgent
    source: Mapped[str] = mapped_column(String(10))  # hotline, officer, online
    source_ref: Mapped[str | None] = mapped_column(String(150))  # the call or the conversation
    referred_by: Mapped[str] = mapped_column(String(100))
    referred_at: Mapped[datetime] = mapped_column(default=utcnow)
    referral_sealed: Mapped[str] = mapped_column(Text)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("social_workers.id"))
    assigned_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    # {"domain": {"level": "high", "note": "..."}, ...}, sealed
    needs_sealed: Mapped[str | None] = mapped_column(Text)
    assessed_at: Mapped[datetime | None]
    # {"goals": [...], "services": [...], "note": "..."}, sealed
    plan_sealed: Mapped[str | None] = mapped_column(Text)
    planned_at: Mapped[datetime | None]
    visit_interval_days: Mapped[int | None]
    next_visit_due: Mapped[date | None] = mapped_column(Date, index=True)
    last_visit_at: Mapped[datetime | None]
    review_due: Mapped[date | None] = mapped_column(Date)
    reviewed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(20))

    steps: Mapped[list[SocialCaseStep]] = relationship(
        cascade="all, delete-orphan", order_by="SocialCaseStep.id", lazy="selectin"
    )


class SocialCaseStep(StepRow, Base):
    __tablename__ = "social_case_steps"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("social_cases.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SocialCaseVisit(Base):
    """A visit (at home, by phone, at a site, online) with its notes, sealed; reviews and the
    closing keep their accounts here too (``kind`` review, closing)."""

    __tablename__ = "social_case_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("social_cases.id", ondelete="CASCADE"), index=True
    )
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("social_workers.id"))
    author: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(10))
    visited_at: Mapped[datetime]
    notes_sealed: Mapped[str] = mapped_column(Text)
    next_due: Mapped[date | None] = mapped_column(Date)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
