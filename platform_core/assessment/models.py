"""Assessment records. Item scores, diagnoses and risk events are health data: they are sealed
(AES-GCM) as one JSON document; totals and grades stay plain because eligibility, due lists and
statistics query them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import CHANNEL_ID, Base, utcnow


class Assessment(Base):
    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_elder_current", "elder_id", "is_current"),
        Index("ix_assessments_due", "is_current", "next_due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    standard: Mapped[str] = mapped_column(String(20))  # GB/T 42195-2022 or MZ/T 039-2013
    reason: Mapped[str] = mapped_column(String(12))  # standard.REASONS
    assessed_on: Mapped[date] = mapped_column(Date)
    assessor_1: Mapped[str] = mapped_column(String(64))
    assessor_2: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(100), default="")
    # Per-dimension totals {"B.1": 30, ...}; None on legacy records, whose items differ.
    dimension_totals: Mapped[dict[str, int] | None] = mapped_column(JSON)
    total: Mapped[int | None]
    preliminary_grade: Mapped[int | None]
    final_grade: Mapped[int]  # AbilityGrade on the GB/T 42195-2022 scale
    # The grade as a legacy record states it (e.g. 重度失能 under MZ/T 039-2013).
    legacy_grade_label: Mapped[str | None] = mapped_column(String(20))
    # {"item_scores", "coma", "diagnoses", "risk_events_30d", "adjustments", "legacy_dimensions"}
    detail_sealed: Mapped[str] = mapped_column(Text)
    disputed_assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    next_due_on: Mapped[date] = mapped_column(Date)
    reminded_on: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @property
    def is_legacy(self) -> bool:
        return self.legacy_grade_label is not None


class AssessmentRequest(Base):
    """A request that assessors visit an elder (from a call, a referral, the counter); it stays
    open until an assessment of the elder is recorded, or it is cancelled."""

    __tablename__ = "assessment_requests"
    __table_args__ = (
        # One open request per elder: a second call about the same elder joins the first.
        Index(
            "uq_assessment_requests_open",
            "elder_id",
            unique=True,
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    reason: Mapped[str] = mapped_column(String(12))  # standard.REASONS
    status: Mapped[str] = mapped_column(String(12), default="requested")  # done, cancelled
    source: Mapped[str] = mapped_column(String(12))  # call, referral, counter
    source_ref: Mapped[str | None] = mapped_column(String(CHANNEL_ID))  # the call's id
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
