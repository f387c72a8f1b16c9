"""The monthly allowance run: every approved elder of a region gets the month's allowance opened
and put in line with the orders opened or cancelled around the order flow (see
``service.reconcile_allowance``). It runs as a job, a batch of elders per unit of work, and
tells the console its progress after each batch; a run picked up again goes on from the last
elder it finished, and doing an elder twice changes nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.accounts.permissions import Permission, require
from platform_core.actors import Actor, system_actor
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import Conflict, NotFound
from platform_core.events import publish_on_commit
from platform_core.gov_purchase import service
from platform_core.gov_purchase.events import AllowanceRunProgressed
from platform_core.gov_purchase.models import AllowanceRun
from platform_core.outbox import enqueue_on_commit
from platform_core.regions import codes
from platform_core.regions.service import require_within, within
from platform_core.runtime import current_runtime

JOB = "platform_core.gov_purchase.monthly:run_batches"
BATCH = 200
OPEN = ("queued", "running")


def _progress(session: Session, run: AllowanceRun) -> None:
    publish_on_commit(
        session,
        AllowanceRunProgressed(
            region_code=run.region_code,
            run_id=run.id,
            month=run.month.strftime("%Y-%m"),
            status=run.status,
            total=run.total,
            done=run.done,
            opened=run.opened,
            charged=run.charged,
            released=run.released,
        ),
    )


def start_run(session: Session, *, actor: Actor, region_code: str, month: date) -> AllowanceRun:
    """Queue the run of ``month`` for the region (the job starts after this commits)."""
    require(actor, Permission.CARE_DECIDE)
    region = codes.normalize_code(region_code)
    require_within(region, actor.region_code)
    start = month.replace(day=1)
    running = session.scalar(
        select(AllowanceRun).where(
            within(AllowanceRun.region_code, region), AllowanceRun.status.in_(OPEN)
        )
    )
    if running is not None:
        raise Conflict(
            f"{running.month:%Y-%m} 的月度补贴批处理正在进行 ({running.done}/{running.total}) / "
            "a run is already under way",
            code="allowance_run_running",
            run_id=running.id,
        )
    total = session.scalar(
        select(func.count()).select_from(
            service.approved_elders(session, region_code=region, month=start).subquery()
        )
    )
    run = AllowanceRun(
        region_code=region, month=start, total=int(total or 0), started_by=actor.name
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="gov_purchase.monthly_run",
        target_type="allowance_run",
        target_id=run.id,
        detail={"region_code": region, "month": start.strftime("%Y-%m"), "elders": run.total},
    )
    _progress(session, run)
    enqueue_on_commit(session, JOB, run.id, job_id=f"allowance-run-{run.id}")
    return run


def get_run(session: Session, *, run_id: int) -> AllowanceRun:
    run = session.get(AllowanceRun, run_id)
    if run is None:
        raise NotFound(f"批处理不存在: {run_id} / no such run", code="allowance_run_not_found")
    return run


def latest_runs(session: Session, *, region_code: str, limit: int = 5) -> list[AllowanceRun]:
    return list(
        session.scalars(
            select(AllowanceRun)
            .where(within(AllowanceRun.region_code, region_code))
            .order_by(AllowanceRun.id.desc())
            .limit(limit)
        )
    )


def run_batch(session: Session, *, run_id: int, size: int = BATCH) -> bool:
    """Do the next ``size`` elders of a run; False once the run has nothing left to do."""
    run = session.scalar(select(AllowanceRun).where(AllowanceRun.id == run_id).with_for_update())
    if run is None or run.status not in OPEN:
        return False
    actor = system_actor(
        f"系统(月度补贴批处理: {run.started_by})"[:64], region_code=run.region_code
    )
    run.status = "running"
    elders = list(
        session.scalars(
            service.approved_elders(session, region_code=run.region_code, month=run.month)
            .where(service.GovPurchaseApplication.elder_id > run.cursor_elder_id)
            .limit(size)
        )
    )
    for elder_id in elders:
        _, opened = service.open_month_allowance(session, elder_id=elder_id, month=run.month)
        done = service.reconcile_allowance(session, actor=actor, elder_id=elder_id, month=run.month)
        run.opened += int(opened)
        run.charged += len(done["charged"])
        run.released += len(done["released"])
        run.done += 1
        run.cursor_elder_id = elder_id
    finished = len(elders) < size
    if finished:
        run.status, run.finished_at = "done", utcnow()
        run.total = max(run.total, run.done)  # approvals made while it ran
    session.flush()
    _progress(session, run)
    return not finished


def run_batches(run_id: int) -> dict[str, Any]:
    """The job: batch after batch, each committed on its own, until the run is done."""
    rt = current_runtime()
    try:
        while True:
            with rt.session() as s:
                if not run_batch(s, run_id=run_id):
                    break
    except Exception as exc:
        with rt.session() as s:
            run = get_run(s, run_id=run_id)
            run.status, run.error, run.finished_at = "failed", str(exc)[:255], utcnow()
            _progress(s, run)
        raise
    with rt.session() as s:
        run = get_run(s, run_id=run_id)
        return {"status": run.status, "done": run.done, "opened": run.opened}
