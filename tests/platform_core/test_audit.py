from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.audit.jobs import seal_audit_trail
from platform_core.audit.models import AuditRecord

AGENT = Actor(kind="user", name="坐席01", region_code="150100000000", role=Role.AGENT, user_id=7)


def _as_superuser(s) -> None:
    """Tamper as someone holding the database's superuser (the trigger does not stop them;
    the hash chain shows what they did)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL session_replication_role = replica"))


def _write(rt, n: int, start: int = 0) -> None:
    with rt.session() as s:
        for i in range(start, start + n):
            audit.record(
                s, actor=AGENT, action="elder.reveal_id_number", target_type="elder", target_id=i
            )


def test_edit_of_a_sealed_or_unsealed_record_is_detected(any_runtime) -> None:
    _write(any_runtime, 3)
    with any_runtime.session() as s:
        assert audit.seal_pending(s) == 3
    _write(any_runtime, 1, start=3)  # not yet sealed
    with any_runtime.session() as s:
        report = audit.verify_chain(s)
        assert report.intact and report.checked == 4
        rows = audit.list_records(s, actor_user_id=7)
        assert [r.target_id for r in rows] == ["3", "2", "1", "0"]
        _as_superuser(s)
        s.execute(update(AuditRecord).where(AuditRecord.id == rows[2].id).values(result="denied"))
        s.execute(update(AuditRecord).where(AuditRecord.id == rows[0].id).values(actor_name="别人"))
    with any_runtime.session() as s:
        report = audit.verify_chain(s)
        assert not report.intact
        assert set(report.altered_ids) == {rows[2].id, rows[0].id}


def test_deleting_a_sealed_record_breaks_the_chain(any_runtime) -> None:
    _write(any_runtime, 4)
    with any_runtime.session() as s:
        audit.seal_pending(s)
        victim = s.query(AuditRecord).filter_by(chain_seq=2).one().id
        _as_superuser(s)
        s.execute(delete(AuditRecord).where(AuditRecord.id == victim))
    with any_runtime.session() as s:
        report = audit.verify_chain(s)
        assert report.broken_at_seq == 2 and not report.intact


def test_seal_job_is_idempotent(any_runtime) -> None:
    _write(any_runtime, 2)
    assert seal_audit_trail(reschedule=False) == 2
    assert seal_audit_trail(reschedule=False) == 0
    with any_runtime.session() as s:
        assert audit.count_unsealed(s) == 0
        assert audit.verify_chain(s).intact


def test_refused_attempt_survives_rollback(any_runtime) -> None:
    officer = Actor(
        kind="user", name="民政A", region_code="150200000000", role=Role.OFFICER, user_id=3
    )
    try:
        with any_runtime.session() as s:
            # the request's own work already wrote an audit record: the separate one must not wait on it
            audit.record(s, actor=officer, action="elder.list", target_type="elder")
            audit.record_refusal(
                s, actor=officer, action="elder.view", target_type="elder", target_id=1
            )
            raise RuntimeError("request refused")
    except RuntimeError:
        pass
    with any_runtime.session() as s:
        assert [(r.action, r.result) for r in audit.list_records(s)] == [("elder.view", "denied")]


def test_refusal_survives_a_session_closed_without_commit(any_runtime) -> None:
    s = any_runtime.session_factory()
    audit.record_refusal(s, actor=AGENT, action="order.view", target_type="order", target_id=9)
    s.close()
    with any_runtime.session() as s2:
        assert [(r.action, r.target_id, r.result) for r in audit.list_records(s2)] == [
            ("order.view", "9", "denied")
        ]


def test_the_database_refuses_to_edit_or_delete_audit_records(runtime) -> None:
    _write(runtime, 2)
    with runtime.session() as s:
        audit.seal_pending(s)  # sealing (a one-time link into the chain) is allowed
    for statement in (
        update(AuditRecord).values(result="denied"),
        update(AuditRecord).values(chain_hash="0" * 64),
        delete(AuditRecord),
        text("TRUNCATE audit_records"),
    ):
        with pytest.raises(DBAPIError) as err, runtime.session() as s:
            s.execute(statement)
        assert "append-only" in str(err.value) or "kept" in str(err.value)
    with runtime.session() as s:
        assert audit.verify_chain(s).intact and audit.verify_chain(s).checked == 2


AUDITOR = Actor(
    kind="user", name="审计员", region_code="150000000000", role=Role.AUDITOR, user_id=30
)
ADMIN = Actor(
    kind="user", name="系统管理员", region_code="150000000000", role=Role.ADMIN, user_id=31
)


def test_only_the_auditor_searches_exports_and_verifies(any_runtime) -> None:
    from platform_core.errors import PermissionDenied
    from platform_core.flows import audit_review as review

    _write(any_runtime, 3)
    with any_runtime.session() as s:
        audit.record(s, actor=ADMIN, action="user.unlock", target_type="user", target_id=5)
    query = review.AuditQuery(person="坐席01", action="elder.")
    for who in (ADMIN, AGENT):
        with pytest.raises(PermissionDenied), any_runtime.session() as s:
            review.search(s, actor=who, query=query)
    with any_runtime.session() as s:
        rows, total = review.search(s, actor=AUDITOR, query=query)
        assert total == 3 and {r.action for r in rows} == {"elder.reveal_id_number"}
        rows, total = review.search(s, actor=AUDITOR, query=review.AuditQuery(elder_id=2))
        assert [r.target_id for r in rows] == ["2"]
        data = review.export_csv(s, actor=AUDITOR, query=query, tz="Asia/Shanghai")
        report = review.verify(s, actor=AUDITOR)
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].strip('"').startswith("导出人 审计员") and len(lines) == 2 + 3
    assert report.intact
    with any_runtime.session() as s:
        actions = {r.action for r in audit.list_records(s, actor_user_id=30)}
        refused = audit.list_records(s, action="audit.search")
    assert {"audit.search", "audit.export", "audit.verify"} <= actions
    assert {r.result for r in refused if r.actor_user_id in (7, 31)} == {"denied"}


def test_retention_keeps_six_months_and_the_chain_still_verifies(any_runtime) -> None:
    from datetime import timedelta

    from platform_core.db import utcnow
    from platform_core.errors import ValidationFailed
    from platform_core.flows import audit_review as review

    old = utcnow() - timedelta(days=400)
    with any_runtime.session() as s:
        for i in range(3):
            audit.record(
                s, actor=AGENT, action="elder.view", target_type="elder", target_id=i, at=old
            )
    _write(any_runtime, 2)
    with pytest.raises(ValidationFailed), any_runtime.session() as s:
        review.purge_expired(s, retention_days=90)  # shorter than six months: refused
    with any_runtime.session() as s:
        purged = review.purge_expired(s, retention_days=365)
    assert purged.audit_records == 3
    with any_runtime.session() as s:
        remaining = audit.list_records(s, limit=100)
        assert {r.action for r in remaining} >= {"elder.reveal_id_number", "audit.retention"}
        assert not [r for r in remaining if r.at < utcnow() - timedelta(days=184)]
        audit.seal_pending(s)
        report = audit.verify_chain(s)
    assert report.intact, report
