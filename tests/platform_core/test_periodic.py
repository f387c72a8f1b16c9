from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.periodic import PERIODIC, daily, ensure_periodic_jobs, every, run_periodic

TZ = ZoneInfo("Asia/Shanghai")


def test_next_runs() -> None:
    now = datetime(2026, 11, 26, 23, 59, 30, tzinfo=UTC)  # 07:59:30 in 呼和浩特
    assert every(1)(now, TZ) == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    assert daily(time(8, 0))(now, TZ) == datetime(2026, 11, 27, 8, 0, tzinfo=TZ)
    assert daily(time(6, 0))(now, TZ) == datetime(2026, 11, 28, 6, 0, tzinfo=TZ)


def test_every_periodic_job_resolves_and_scheduling_twice_schedules_once(runtime) -> None:
    now = datetime.now(UTC)
    first = ensure_periodic_jobs(runtime, now=now)
    second = ensure_periodic_jobs(runtime, now=now)
    assert first == second and len(first) == len(PERIODIC) + 1
    waiting = [j.job_id for j in runtime.jobs._heap]
    assert sorted(waiting) == sorted(set(waiting))


def test_a_run_does_its_work_and_books_the_next(runtime) -> None:
    agent = Actor(kind="user", name="坐席", region_code="150100000000", role=Role.AGENT, user_id=1)
    with runtime.session() as s:
        audit.record(s, actor=agent, action="elder.view", target_type="elder", target_id=1)
    assert run_periodic("audit-seal") == 1
    with runtime.session() as s:
        assert audit.count_unsealed(s) == 0
    assert any(j.job_id.startswith("periodic-audit-seal-") for j in runtime.jobs._heap)


def test_on_rq_each_run_is_scheduled_once_whoever_schedules_it(redis_runtime) -> None:
    from rq import Queue

    queue = Queue(
        redis_runtime.jobs.queue_name("default"), connection=redis_runtime.jobs.connection
    )
    now = datetime.now(UTC)
    ids = ensure_periodic_jobs(redis_runtime, now=now)
    before = queue.scheduled_job_registry.count
    assert ensure_periodic_jobs(redis_runtime, now=now) == ids  # a second worker starting
    assert queue.scheduled_job_registry.count == before
    assert len(ids) == len(set(ids)) == len(PERIODIC) + 1
    assert set(ids) <= set(queue.scheduled_job_registry.get_job_ids())
    for job_id in ids:
        queue.scheduled_job_registry.remove(job_id, delete_job=True)


def test_the_daily_retention_run_keeps_six_months(runtime) -> None:
    from datetime import timedelta

    from platform_core.actors import system_actor
    from platform_core.audit import service as audit
    from platform_core.db import utcnow

    with runtime.session() as s:
        audit.record(
            s,
            actor=system_actor(),
            action="old",
            target_type="x",
            at=utcnow() - timedelta(days=runtime.settings.audit_retention_days + 5),
        )
        audit.record(
            s,
            actor=system_actor(),
            action="recent",
            target_type="x",
            at=utcnow() - timedelta(days=190),
        )
    assert run_periodic("audit-retention") == 1
    with runtime.session() as s:
        actions = {r.action for r in audit.list_records(s)}
    assert "recent" in actions and "old" not in actions
