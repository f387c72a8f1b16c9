from __future__ import annotations

from sqlalchemy import delete, update

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.audit.jobs import seal_audit_trail
from platform_core.audit.models import AuditRecord

AGENT = Actor(kind="user", name="坐席01", region_code="150100000000", role=Role.AGENT, user_id=7)


def _write(rt, n: int, start: int = 0) -> None:
    with rt.session() as s:
        for i in range(start, start + n):
            audit.record(s, actor=AGENT, action="elder.reveal_id_number", target_type="elder", target_id=i)


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
    officer = Actor(kind="user", name="民政A", region_code="150200000000", role=Role.OFFICER, user_id=3)
    try:
        with any_runtime.session() as s:
            # the request's own work already wrote an audit record: the separate one must not wait on it
            audit.record(s, actor=officer, action="elder.list", target_type="elder")
            audit.record_refusal(s, actor=officer, action="elder.view", target_type="elder", target_id=1)
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
        assert [(r.action, r.target_id, r.result) for r in audit.list_records(s2)] == [("order.view", "9", "denied")]
