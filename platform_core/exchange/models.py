"""Data exchange records: the keys of departments and platforms that send to this one, each
batch received with every row's result, the elders' medical insurance status as the insurer
reports it, and the exports sent upward (and, on a receiving platform, those received).

No ID number is kept in clear here: a row keeps the elder it matched (by the keyed hash of
the ID number) and the number's masked form; export files are sealed at rest.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class ExchangeKey(Base):
    """A signing key of a department (公安, 残联, 医保) or of a lower platform (a league's) that
    sends to this one. The secret is sealed, not hashed: checking a signature needs it."""

    __tablename__ = "exchange_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    # a department's code (public_security ...) or "platform" for a lower platform
    party: Mapped[str] = mapped_column(String(30), index=True)
    party_name: Mapped[str] = mapped_column(String(60))
    # what the key may touch: the department's area, or the lower platform's own region
    region_code: Mapped[str] = mapped_column(String(12))
    secret_sealed: Mapped[str] = mapped_column(Text)
    cipher: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ExchangeBatch(Base):
    """One batch a department sent (through the interface) or an officer uploaded (a file)."""

    __tablename__ = "exchange_batches"
    __table_args__ = (UniqueConstraint("department", "batch_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(20), index=True)  # deaths / disability / insurance
    batch_no: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))  # api / file / command
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    # what the batch carried, so a resend can be told from a different batch under the same id
    content_sha256: Mapped[str] = mapped_column(String(64))
    total_rows: Mapped[int] = mapped_column(default=0)
    accepted_rows: Mapped[int] = mapped_column(default=0)
    repeated_rows: Mapped[int] = mapped_column(default=0)
    refused_rows: Mapped[int] = mapped_column(default=0)
    unknown_rows: Mapped[int] = mapped_column(default=0)
    received_by: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ExchangeRow(Base):
    __tablename__ = "exchange_rows"
    __table_args__ = (UniqueConstraint("batch_id", "row_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_batches.id", ondelete="CASCADE"), index=True
    )
    row_no: Mapped[int]
    # the department's own key of the record (死亡注销编号, 残疾证号, 参保记录号)
    row_key: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str] = mapped_column(String(30))
    # accepted / repeated (a row key already accepted) / refused / unknown_elder
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(18), default="")
    # the row's facts other than identity (the date of death, the grade ...)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MedicalInsuranceStatus(Base):
    """An elder's medical insurance as the insurer last reported it."""

    __tablename__ = "elder_medical_insurance"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), unique=True)
    scheme: Mapped[str] = mapped_column(String(20))  # employee / resident
    status: Mapped[str] = mapped_column(String(12))  # insured / suspended / ended
    as_of: Mapped[date] = mapped_column(Date)
    batch_id: Mapped[int] = mapped_column(ForeignKey("exchange_batches.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UpwardExport(Base):
    """An export this platform sends to the one above it, until the receiver acknowledges it."""

    __tablename__ = "exchange_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_no: Mapped[str] = mapped_column(String(64), unique=True)
    schema_version: Mapped[str] = mapped_column(String(10))
    region_code: Mapped[str] = mapped_column(String(12))
    target_url: Mapped[str] = mapped_column(String(255))
    # pending (waiting for its next attempt) / acknowledged / refused (the receiver said why)
    status: Mapped[str] = mapped_column(String(14), index=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(300), default="")
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportFile(Base):
    """A file of an export (sent or received), sealed at rest: it holds ID numbers."""

    __tablename__ = "exchange_export_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_exports.id", ondelete="CASCADE"), index=True
    )
    received_id: Mapped[int | None] = mapped_column(
        ForeignKey("exchange_received.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    rows: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content_sealed: Mapped[str] = mapped_column(Text)


class ReceivedExport(Base):
    """An export a lower platform sent here, acknowledged once with its receipt number."""

    __tablename__ = "exchange_received"
    __table_args__ = (UniqueConstraint("sender_region", "batch_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_region: Mapped[str] = mapped_column(String(12))
    key_id: Mapped[str] = mapped_column(String(40))
    batch_no: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(10))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    receipt_no: Mapped[str] = mapped_column(String(40), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
