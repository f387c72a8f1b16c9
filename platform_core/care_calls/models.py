from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import CHANNEL_ID, Base, utcnow


class CareCampaign(Base):
    """One round of care calls to the elders of a region who match its criteria."""

    __tablename__ = "care_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    # {"min_age": 80, "categories": [...], "living_arrangements": [...]}: an elder matching any
    # one of them is called
    criteria: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(
        String(40), default="routine"
    )  # routine, extreme_weather, ...
    max_attempts: Mapped[int]
    retry_interval_min: Mapped[int]
    status: Mapped[str] = mapped_column(
        String(12), default="scheduled"
    )  # scheduled, running, finished, cancelled
    scheduled_for: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    calls: Mapped[list[CareCall]] = relationship(back_populates="campaign", order_by="CareCall.id")


class CareCall(Base):
    """The care call to one elder in one campaign, over all its attempts."""

    __tablename__ = "care_calls"
    __table_args__ = (
        UniqueConstraint("campaign_id", "elder_id"),
        Index("ix_care_calls_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("care_campaigns.id", ondelete="CASCADE"), index=True
    )
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    number: Mapped[str] = mapped_column(String(20))
    # pending -> calling -> (retry -> calling)* -> well | needs_help | no_key (answered, pressed
    # nothing, handed to a person) | unreachable (attempts used up: SMS + visit order)
    # | skipped (died or no phone before the call) | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    outcome_at: Mapped[datetime | None]
    visit_order_id: Mapped[int | None]
    notice_id: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(255))

    campaign: Mapped[CareCampaign] = relationship(back_populates="calls")
    attempt_rows: Mapped[list[CareCallAttempt]] = relationship(
        back_populates="care_call", order_by="CareCallAttempt.attempt_no"
    )


class CareCallAttempt(Base):
    """One dialling of the elder's phone."""

    __tablename__ = "care_call_attempts"
    __table_args__ = (UniqueConstraint("care_call_id", "attempt_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    care_call_id: Mapped[int] = mapped_column(
        ForeignKey("care_calls.id", ondelete="CASCADE"), index=True
    )
    attempt_no: Mapped[int]
    number: Mapped[str] = mapped_column(String(20))
    # the idempotency key of the Originate command: placing the same attempt twice dials once
    command_key: Mapped[str] = mapped_column(String(64), unique=True)
    # placing -> dialling -> answered -> well | needs_help | no_key; or no_answer | busy | failed
    status: Mapped[str] = mapped_column(String(12), default="placing")
    uniqueid: Mapped[str | None] = mapped_column(String(CHANNEL_ID))
    reason: Mapped[str | None] = mapped_column(String(80))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    care_call: Mapped[CareCall] = relationship(back_populates="attempt_rows")


class CareNotice(Base):
    """A text message to an emergency contact, kept in an outbox until the SMS gateway takes it."""

    __tablename__ = "care_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    care_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("care_calls.id", ondelete="SET NULL"), index=True
    )
    elder_id: Mapped[int] = mapped_column(index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    to_number: Mapped[str] = mapped_column(String(20))
    to_name: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued, sent, failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
