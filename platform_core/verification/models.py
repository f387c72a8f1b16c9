"""Codes texted to a phone to prove the person holds it (a captcha-free proof): only a keyed
hash of each code is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class PhoneVerification(Base):
    __tablename__ = "phone_verifications"
    __table_args__ = (Index("ix_phone_verifications_phone_issued", "phone", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # volunteer_phone, online_intake
    phone: Mapped[str] = mapped_column(String(20))
    code_index: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    tries: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime | None]
    # what the proof was used for, once (a registration, an online conversation)
    consumed_at: Mapped[datetime | None]
    source_ip: Mapped[str | None] = mapped_column(String(45))
