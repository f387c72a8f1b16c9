"""Audit trail: every reveal, export, profile view and refused attempt is recorded.

Records are hash-chained in insertion order; :func:`verify_chain` finds the first tampered row.
A process-wide lock plus a row lock on PostgreSQL keeps the chain linear under concurrency.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit.models import AuditRecord
from platform_core.db import utcnow

_GENESIS = "0" * 64
_lock = threading.Lock()


def _digest(prev: str, row: AuditRecord) -> str:
    body = json.dumps(
        [prev, row.at.isoformat(), row.actor_kind, row.actor_name, row.actor_user_id, row.actor_role,
         row.actor_region, row.action, row.target_type, row.target_id, row.result, row.detail, row.source_ip],
        ensure_ascii=False, sort_keys=True, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int | None = None,
    result: str = "ok",
    detail: dict[str, Any] | None = None,
    source_ip: str | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one audit record (flushed with the caller's unit of work)."""
    with _lock:
        if session.bind is not None and session.get_bind().dialect.name == "postgresql":
            # serialise chain appends across processes for the rest of this transaction
            session.execute(text("SELECT pg_advisory_xact_lock(12349)"))
        prev = session.scalar(select(AuditRecord.chain_hash).order_by(AuditRecord.id.desc()).limit(1)) or _GENESIS
        row = AuditRecord(
            at=at or utcnow(),
            actor_kind=actor.kind,
            actor_name=actor.name,
            actor_user_id=actor.user_id,
            actor_role=actor.role.value if actor.role else None,
            actor_region=actor.region_code,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            result=result,
            detail=detail or {},
            source_ip=source_ip,
        )
        row.chain_hash = _digest(prev, row)
        session.add(row)
        session.flush()
        return row


def record_separately(session_factory: Any, **kwargs: Any) -> None:
    """Record in its own transaction: refused attempts must stay audited even though the
    request's own unit of work rolls back."""
    s = session_factory()
    try:
        record(s, **kwargs)
        s.commit()
    finally:
        s.close()


def verify_chain(session: Session) -> int | None:
    """Return the id of the first record whose hash does not match, or None if intact."""
    prev = _GENESIS
    for row in session.scalars(select(AuditRecord).order_by(AuditRecord.id)):
        if _digest(prev, row) != row.chain_hash:
            return row.id
        prev = row.chain_hash
    return None


def list_records(
    session: Session, *, target_type: str | None = None, target_id: str | None = None,
    actor_user_id: int | None = None, action: str | None = None, limit: int = 200,
) -> list[AuditRecord]:
    q = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
    if target_type:
        q = q.where(AuditRecord.target_type == target_type)
    if target_id is not None:
        q = q.where(AuditRecord.target_id == str(target_id))
    if actor_user_id is not None:
        q = q.where(AuditRecord.actor_user_id == actor_user_id)
    if action:
        q = q.where(AuditRecord.action == action)
    return list(session.scalars(q))
