"""The SMS outbox (短信发件箱) and its delivery log.

Every message is a row from the moment it is queued; its status moves queued -> sent ->
delivered, or to failed, and each move is logged with the gateway's message SID and error code.
The text carries personal data (names, addresses, codes), so it is sealed at rest.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from platform_core.db import Base, utcnow


class SmsStatus(StrEnum):
    QUEUED = "queued"  # 待发送 (also: waiting for the next attempt)
    SENT = "sent"  # 已提交网关
    DELIVERED = "delivered"  # 已送达
    FAILED = "failed"  # 发送失败


STATUS_LABELS = {
    SmsStatus.QUEUED: "待发送",
    SmsStatus.SENT: "已提交",
    SmsStatus.DELIVERED: "已送达",
    SmsStatus.FAILED: "发送失败",
}


class OutboxMessage(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        # one message per recipient, template and cause: a job run twice sends once
        UniqueConstraint("ref_type", "ref_id", "to_number", "template"),
        Index("ix_sms_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_number: Mapped[str] = mapped_column(String(20), index=True)
    to_name: Mapped[str] = mapped_column(String(64), default="")
    template: Mapped[str] = mapped_column(String(40))
    body_sealed: Mapped[str] = mapped_column(Text)
    # What the message is about: ("order_step", "12:5"), ("alarm", "77"), ...
    ref_type: Mapped[str] = mapped_column(String(30))
    ref_id: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(12), default=SmsStatus.QUEUED, index=True)
    # "twilio", or "outbox" where no gateway is configured (the message stays queued here)
    channel: Mapped[str] = mapped_column(String(12), default="outbox")
    gateway_sid: Mapped[str | None] = mapped_column(String(40), index=True)
    gateway_status: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    log: Mapped[list[OutboxEvent]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="OutboxEvent.id"
    )


class OutboxEvent(Base):
    """One step of a message's delivery: queued, attempt failed, sent, delivered, failed."""

    __tablename__ = "sms_outbox_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("sms_outbox.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12))
    event: Mapped[str] = mapped_column(String(20))  # queued, sent, retry, delivered, failed, status
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    message: Mapped[OutboxMessage] = relationship(back_populates="log")
