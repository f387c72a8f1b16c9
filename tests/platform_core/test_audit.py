from __future__ import annotations

from sqlalchemy import update

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.audit.models import AuditRecord


def test_chain_detects_tampering(any_runtime) -> None:
    agent = Actor(kind="user", name="坐席01", region_code="150100000000", role=Role.AGENT, user_id=7)
    with any_runtime.session() as s:
        for i in range(3):
            audit.record(s, actor=agent, action="elder.reveal_id_number", target_type="elder", target_id=i)
    with any_runtime.session() as s:
        assert audit.verify_chain(s) is None
        rows = audit.list_records(s, actor_user_id=7)
        assert [r.target_id for r in rows] == ["2", "1", "0"]
        second = rows[1].id
        s.execute(update(AuditRecord).where(AuditRecord.id == second).values(result="denied"))
    with any_runtime.session() as s:
        assert audit.verify_chain(s) == second


def test_refused_attempt_survives_rollback(any_runtime) -> None:
    officer = Actor(kind="user", name="民政A", region_code="150200000000", role=Role.OFFICER, user_id=3)
    try:
        with any_runtime.session():
            audit.record_separately(any_runtime.session_factory, actor=officer, action="elder.view",
                                    target_type="elder", target_id=1, result="denied")
            raise RuntimeError("request refused")
    except RuntimeError:
        pass
    with any_runtime.session() as s:
        assert [r.result for r in audit.list_records(s)] == ["denied"]
