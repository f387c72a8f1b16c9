from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class AuditRecord(Base):
    """Who saw or changed what, when, with what result (GB/T 22239 level 2: logs protected).

    ``row_hash`` binds a record's own content when it is written. A sealer later links records
    into one chain (``chain_seq`` 1, 2, 3 ... with ``chain_hash`` over the previous link), so an
    edited record breaks its own hash and a deleted one leaves a gap in the chain, while writers
    never wait on a global lock.
    """

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    actor_region: Mapped[str] = mapped_column(String(12))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(20))  # ok, denied, failed
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    source_ip: Mapped[str | None] = mapped_column(String(45))
    row_hash: Mapped[str] = mapped_column(String(64))
    chain_seq: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), unique=True
    )
    chain_hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainAnchor(Base):
    """Where the chain resumes after the retention job removed its oldest records: the last
    removed link's position and hash, so verification starts from there and a gap is still
    a break."""

    __tablename__ = "audit_chain_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    chain_hash: Mapped[str] = mapped_column(String(64))
    removed: Mapped[int] = mapped_column(Integer)
    removed_before: Mapped[datetime]
    at: Mapped[datetime] = mapped_column(default=utcnow)
