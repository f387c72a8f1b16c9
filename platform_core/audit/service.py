"""Audit trail: every reveal, export, profile view and refused attempt is recorded.

Writing a record takes no lock, so auditing every screen pop costs one insert. Tamper evidence
comes in two layers: each record's ``row_hash`` covers its content from the moment it is written,
and :func:`seal_pending` (run every minute by a job, and before every verification) links the
records into a single hash chain in the order they were sealed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit.models import AuditChainAnchor, AuditRecord
from platform_core.db import utcnow

_GENESIS = "0" * 64
_seal_lock = threading.Lock()


# the fields a record's row_hash covers, in the order hashed
_HASHED = (
    "actor_kind",
    "actor_name",
    "actor_user_id",
    "actor_role",
    "actor_region",
    "action",
    "target_type",
    "target_id",
    "result",
    "detail",
    "source_ip",
)
# one statement object for every record: built and keyed for SQLAlchemy's cache once
_RECORDS: Table = AuditRecord.__table__  # type: ignore[assignment]
_INSERT = insert(_RECORDS)


def _content_hash(row: AuditRecord | dict[str, Any]) -> str:
    """The hash of a record's content: a stored record, or the values of one being written."""
    values = row if isinstance(row, dict) else {f: getattr(row, f) for f in ("at", *_HASHED)}
    body = json.dumps(
        [values["at"].isoformat(), *(values[f] for f in _HASHED)],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _link(prev: str, row_hash: str) -> str:
    return hashlib.sha256((prev + row_hash).encode()).hexdigest()


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
) -> None:
    """Append one audit record in the caller's transaction.

    A plain INSERT, not an ORM object flushed through the unit of work: every screen pop and
    care status writes one, and the flush was a twentieth of the console's CPU under load. What the
    caller has pending is flushed first, as the ORM's flush of the record did."""
    values: dict[str, Any] = {
        "at": at or utcnow(),
        "actor_kind": actor.kind,
        "actor_name": actor.name,
        "actor_user_id": actor.user_id,
        "actor_role": actor.role.value if actor.role else None,
        "actor_region": actor.region_code,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "result": result,
        "detail": detail or {},
        "source_ip": source_ip,
    }
    values["row_hash"] = _content_hash(values)
    session.flush()
    session.execute(_INSERT, values)


def record_separately(session_factory: Any, **kwargs: Any) -> None:
    """Record in its own transaction: refused attempts must stay audited even though the
    request's own unit of work rolls back."""
    s = session_factory()
    try:
        record(s, **kwargs)
        s.commit()
    finally:
        s.close()


_REFUSALS = "audit_refusals"


def record_refusal(session: Session, **kwargs: Any) -> None:
    """Audit a refused attempt made inside ``session``'s unit of work.

    The refusal usually rolls that unit back, and on SQLite a second writer would wait for it,
    so the record is written in its own transaction as soon as the session's transaction ends,
    whether it commits, rolls back or is closed without either.
    """
    kwargs.setdefault("result", "denied")
    if not session.in_transaction():
        session.begin()  # so that its end, however it comes, writes the record
    session.info.setdefault(_REFUSALS, []).append(kwargs)


class Refusal(TypedDict, total=False):
    """A refused action: who, what, the reason it was refused (a code the audit review groups
    by) and any detail beside it."""

    actor: Required[Actor]
    action: Required[str]
    reason: Required[str]
    detail: dict[str, Any] | None


def refuse(
    session: Session, *, target_type: str, target_id: int | None, **refusal: Unpack[Refusal]
) -> None:
    """Audit a refused action on one record: what each module's ``refuse_on_*`` writes."""
    record_refusal(
        session,
        actor=refusal["actor"],
        action=refusal["action"],
        target_type=target_type,
        target_id=target_id,
        detail={"reason": refusal["reason"], **(refusal.get("detail") or {})},
    )


@event.listens_for(Session, "after_transaction_end")
def _write_refusals(session: Session, transaction: Any) -> None:
    # the root transaction's end: commit, rollback, or a session closed without either
    if transaction.parent is not None:
        return
    pending: list[dict[str, Any]] = session.info.pop(_REFUSALS, [])
    if not pending:
        return
    bind = session.get_bind()
    for kwargs in pending:
        record_separately(lambda: Session(bind=bind), **kwargs)


def seal_pending(session: Session, *, limit: int = 10_000) -> int:
    """Link committed, unsealed records into the chain; returns how many were sealed."""
    with _seal_lock:
        if session.get_bind().dialect.name == "postgresql":
            # one sealer at a time across processes, for the rest of this transaction
            session.execute(text("SELECT pg_advisory_xact_lock(12349)"))
        last = session.execute(
            select(AuditRecord.chain_seq, AuditRecord.chain_hash)
            .where(AuditRecord.chain_seq.is_not(None))
            .order_by(AuditRecord.chain_seq.desc())
            .limit(1)
        ).first()
        seq: int = (last[0] or 0) if last else 0
        prev: str = (last[1] or _GENESIS) if last else _GENESIS
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.chain_seq.is_(None))
            .order_by(AuditRecord.id)
            .limit(limit)
        ).all()
        for row in rows:
            seq += 1
            prev = _link(prev, row.row_hash)
            row.chain_seq, row.chain_hash = seq, prev
        session.flush()
        return len(rows)


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    altered_ids: tuple[int, ...]  # records whose content no longer matches their hash
    broken_at_seq: int | None  # first chain position that does not link (deletion or rewrite)


def verify_chain(session: Session) -> ChainReport:
    """Check every record's content and the chain's links."""
    altered: list[int] = []
    broken: int | None = None
    prev, expected_seq, checked = _GENESIS, 1, 0
    anchor = session.scalars(
        select(AuditChainAnchor).order_by(AuditChainAnchor.id.desc()).limit(1)
    ).first()
    if anchor is not None:  # the retention job removed the chain's start: resume after it
        prev, expected_seq = anchor.chain_hash, anchor.chain_seq + 1
    rows = select(AuditRecord).order_by(
        AuditRecord.chain_seq.is_(None), AuditRecord.chain_seq, AuditRecord.id
    )
    for row in session.scalars(rows):
        checked += 1
        if _content_hash(row) != row.row_hash:
            altered.append(row.id)
        if row.chain_seq is None or broken is not None:
            continue
        if row.chain_seq != expected_seq or _link(prev, row.row_hash) != row.chain_hash:
            broken = expected_seq
            continue
        prev, expected_seq = row.chain_hash, expected_seq + 1
    return ChainReport(not altered and broken is None, checked, tuple(altered), broken)


def count_unsealed(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.chain_seq.is_(None))
        )
        or 0
    )


def list_records(
    session: Session,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    actor_user_id: int | None = None,
    action: str | None = None,
    limit: int = 200,
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
