"""The auditor's view of the audit trail (安全审计员): search by person, elder, action and time,
export (watermarked, itself audited), verify the hash chain, and the retention job.

Only the auditor role reads the trail (permission ``view_audit``), in their region; reading it
is recorded too. Nobody edits it: there is no command that changes a record, and on PostgreSQL
the database refuses it (``protection.py``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.models import LoginSession
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.audit.models import AuditChainAnchor, AuditRecord
from platform_core.audit.protection import RETENTION_FLOOR_DAYS
from platform_core.db import utcnow
from platform_core.errors import PermissionDenied, ValidationFailed
from platform_core.regions.service import within
from platform_core.runtime import current_runtime
from platform_core.security.exports import watermark

ANONYMOUS_REGION = "000000000000"
COLUMNS = ("时间", "操作人", "角色", "地区", "操作", "对象", "对象编号", "结果", "来源地址", "详情")


@dataclass(frozen=True)
class AuditQuery:
    person: str = ""  # username (actor name) or user id
    elder_id: int | None = None
    action: str = ""  # exact, or a prefix ending with "." ("auth.")
    start: datetime | None = None
    end: datetime | None = None
    result: str = ""


def require_auditor(session: Session, actor: Actor, action: str) -> None:
    if actor.kind == "system" or allows(actor.role, Permission.VIEW_AUDIT):
        return
    audit.record_refusal(
        session,
        actor=actor,
        action=action,
        target_type="audit",
        detail={"reason": "permission_denied"},
    )
    raise PermissionDenied("只有安全审计员可以查看审计记录 / only auditors read the audit trail")


def _select(actor: Actor, q: AuditQuery) -> Any:
    stmt = select(AuditRecord)
    if actor.kind != "system":
        scope = within(AuditRecord.actor_region, actor.region_code)
        if actor.region_code.endswith("0000000000"):  # a province's auditor sees anonymous tries
            scope = or_(scope, AuditRecord.actor_region == ANONYMOUS_REGION)
        stmt = stmt.where(scope)
    if q.person:
        person = q.person.strip()[:64]
        cond = AuditRecord.actor_name == person
        if person.isascii() and person.isdigit():
            cond = or_(cond, AuditRecord.actor_user_id == int(person))
        stmt = stmt.where(cond)
    if q.elder_id is not None:
        stmt = stmt.where(
            or_(
                (AuditRecord.target_type == "elder") & (AuditRecord.target_id == str(q.elder_id)),
                cast(AuditRecord.detail, String).like(f'%"elder_id": {q.elder_id}%'),
            )
        )
    if q.action:
        stmt = stmt.where(
            AuditRecord.action.startswith(q.action)
            if q.action.endswith(".")
            else AuditRecord.action == q.action
        )
    if q.result:
        stmt = stmt.where(AuditRecord.result == q.result)
    if q.start is not None:
        stmt = stmt.where(AuditRecord.at >= q.start)
    if q.end is not None:
        stmt = stmt.where(AuditRecord.at < q.end)
    return stmt


def search(
    session: Session, *, actor: Actor, query: AuditQuery, limit: int = 100, offset: int = 0
) -> tuple[list[AuditRecord], int]:
    """A page of matching records (newest first) and how many match; the search is audited."""
    require_auditor(session, actor, "audit.search")
    stmt = _select(actor, query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(
        session.scalars(
            stmt.order_by(AuditRecord.id.desc()).limit(min(limit, 500)).offset(max(offset, 0))
        )
    )
    audit.record(
        session,
        actor=actor,
        action="audit.search",
        target_type="audit",
        detail={k: str(v) for k, v in query.__dict__.items() if v not in ("", None)},
    )
    return rows, total


def row_of(r: AuditRecord, tz: str) -> list[Any]:
    return [
        clock.local(r.at, tz).strftime("%Y-%m-%d %H:%M:%S"),
        r.actor_name,
        r.actor_role or r.actor_kind,
        r.actor_region,
        r.action,
        r.target_type,
        r.target_id or "",
        r.result,
        r.source_ip or "",
        _detail_text(r.detail),
    ]


def _detail_text(detail: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted((detail or {}).items()))[:500]


def export_csv(session: Session, *, actor: Actor, query: AuditQuery, tz: str) -> bytes:
    """Every matching record (up to 100,000) as CSV, watermarked with who exported it."""
    require_auditor(session, actor, "audit.export")
    rows = session.scalars(_select(actor, query).order_by(AuditRecord.id).limit(100_000))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([watermark(actor, tz)])
    writer.writerow(COLUMNS)
    count = 0
    for r in rows:
        writer.writerow(row_of(r, tz))
        count += 1
    audit.record(
        session,
        actor=actor,
        action="audit.export",
        target_type="audit",
        detail={
            "rows": count,
            **{k: str(v) for k, v in query.__dict__.items() if v not in ("", None)},
        },
    )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def verify(session: Session, *, actor: Actor) -> audit.ChainReport:
    """Seal what is pending, then check every record and link; the check is audited."""
    require_auditor(session, actor, "audit.verify")
    audit.seal_pending(session)
    report = audit.verify_chain(session)
    audit.record(
        session,
        actor=actor,
        action="audit.verify",
        target_type="audit",
        result="ok" if report.intact else "failed",
        detail={
            "checked": report.checked,
            "broken_at_seq": report.broken_at_seq,
            "altered": list(report.altered_ids)[:50],
        },
    )
    return report


# ---------------------------------------------------------------- retention


@dataclass(frozen=True)
class Purged:
    audit_records: int
    login_sessions: int
    before: datetime


def purge_expired(session: Session, *, retention_days: int, now: datetime | None = None) -> Purged:
    """Remove audit records and ended logins older than ``retention_days`` (never fewer than
    six months: a shorter setting is refused). The chain's last removed link is kept as an
    anchor, so verification still covers every record that remains."""
    if retention_days < RETENTION_FLOOR_DAYS:
        raise ValidationFailed(
            f"审计与安全日志至少保存 {RETENTION_FLOOR_DAYS} 天 (六个月) / audit and security logs "
            f"are kept at least {RETENTION_FLOOR_DAYS} days",
            code="retention_too_short",
        )
    before = (now or utcnow()) - timedelta(days=retention_days)
    audit.seal_pending(session)
    # the chain is cut at the last link before the first record still within retention
    # (records sealed late wait for a later run)
    first_young = session.scalar(
        select(func.min(AuditRecord.chain_seq)).where(
            AuditRecord.chain_seq.is_not(None), AuditRecord.at >= before
        )
    )
    cut = (
        int(first_young) - 1
        if first_young is not None
        else int(session.scalar(select(func.max(AuditRecord.chain_seq))) or 0)
    )
    removed = 0
    chain_hash = session.scalar(select(AuditRecord.chain_hash).where(AuditRecord.chain_seq == cut))
    if cut >= 1 and chain_hash is not None:
        removed = _count(session.execute(delete(AuditRecord).where(AuditRecord.chain_seq <= cut)))
        session.add(
            AuditChainAnchor(
                chain_seq=cut, chain_hash=chain_hash, removed=removed, removed_before=before
            )
        )
    logins = _count(
        session.execute(
            delete(LoginSession).where(
                LoginSession.ended_at.is_not(None), LoginSession.ended_at < before
            )
        )
    )
    session.flush()
    audit.record(
        session,
        actor=Actor(kind="system", name="日志保留", region_code="150000000000"),
        action="audit.retention",
        target_type="audit",
        detail={
            "removed": removed,
            "login_sessions": logins,
            "before": before.isoformat(),
            "retention_days": retention_days,
        },
    )
    return Purged(removed, logins, before)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired_audit() -> int:
    """The daily retention run: audit records and ended logins past
    HOTLINE_AUDIT_RETENTION_DAYS (never under six months) go, the chain anchored."""
    rt = current_runtime()
    with rt.session() as s:
        done = purge_expired(s, retention_days=rt.settings.audit_retention_days)
    return done.audit_records
