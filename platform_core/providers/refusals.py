"""Auditing refused attempts so that the record outlives the refused unit of work.

A refusal is raised as an error, and the caller's transaction usually rolls back, taking any
audit row written in it along. Writing the row at once in a second transaction is no answer
either: the audit chain is serialised by a transaction-scoped lock (an advisory lock on
PostgreSQL, the write lock on SQLite), and if the refused unit of work already appended to the
chain, the second transaction waits for a lock its own caller holds. So the refusal is queued on
the session and written in its own transaction the moment the unit of work ends, by commit or
by rollback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.errors import DomainError

_KEY = "pending_refusal_audits"


def audit_refusal(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: int | str | None,
    error: DomainError,
    detail: dict[str, Any] | None = None,
) -> None:
    """Queue a ``denied`` audit record for when the current unit of work ends."""
    session.info.setdefault(_KEY, []).append(
        {
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "result": "denied",
            "detail": {"reason": error.code, **(detail or {})},
        }
    )


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _write_refusals(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(_KEY, [])
    if not pending:
        return
    bind = session.get_bind()
    info = {k: v for k, v in session.info.items() if k in ("event_bus", "cipher", "settings")}
    for record in pending:
        audit.record_separately(lambda: Session(bind=bind, info=info), **record)
