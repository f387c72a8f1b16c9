"""Provider API keys, the nonces already seen, and the service events each applied once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class KeyStatus(StrEnum):
    ACTIVE = "active"
    ROTATED = "rotated"  # replaced; still accepted until valid_until
    REVOKED = "revoked"


class ProviderApiKey(Base):
    """A provider's key. The secret is needed in clear to check signatures, so it is sealed
    under the data key rather than hashed; it is shown once, when issued."""

    __tablename__ = "provider_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    secret_sealed: Mapped[str] = mapped_column(Text)
    cipher: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), default=KeyStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    valid_until: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None]


class ProviderApiNonce(Base):
    """A nonce seen with a key (the database store; Redis keeps them where configured)."""

    __tablename__ = "provider_api_nonces"
    __table_args__ = (UniqueConstraint("key_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ProviderReport(Base):
    """A service event a provider reported, applied once per order number and sequence."""

    __tablename__ = "provider_reports"
    __table_args__ = (UniqueConstraint("order_no", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(40))
    order_no: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int]
    event: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int] = mapped_column(ForeignKey("service_orders.id"), index=True)
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
