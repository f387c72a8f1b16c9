"""Bulk imports into the registries, as one use case from upload to the last row written.

1. :func:`stage_import` keeps the uploaded file as a batch once its size and header row pass
   (a wrong header row or an oversized file is refused at once and nothing is kept).
2. :func:`run_batch` (an RQ job taking the committed batch id) checks every row — the dry run —
   or checks and then imports. An import writes only when no row has a problem, in one
   transaction: a file with one bad row writes nothing, and a failure half-way leaves nothing
   behind. Rows already on record with the same details change nothing, so running the same
   file twice imports it once.
3. Progress (rows done of the file's rows) is committed on its own connection while the job
   runs, so the page that polls it moves.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.devices import imports as device_imports
from platform_core.elders import imports as elder_imports
from platform_core.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from platform_core.imports.models import ImportBatch
from platform_core.imports.workbook import (
    Column,
    ImportPass,
    Outcome,
    Source,
    check_size,
    open_rows,
)
from platform_core.regions.codes import is_within
from platform_core.regions.service import within
from platform_core.runtime import current_runtime, settings_of

log = logging.getLogger(__name__)
JOB = "platform_core.flows.registry_imports:run_batch_job"


@dataclass(frozen=True)
class Kind:
    columns: tuple[Column, ...]
    permission: Permission
    label: str


KINDS = {
    "elders": Kind(elder_imports.COLUMNS, Permission.MANAGE_ELDERS, "老年人"),
    "devices": Kind(device_imports.COLUMNS, Permission.MANAGE_DEVICES, "智能设备"),
}
FINISHED = ("checked", "rejected", "imported", "failed")


def _kind(kind: str) -> Kind:
    found = KINDS.get(kind)
    if found is None:
        raise ValidationFailed(f"未知的导入类型: {kind} / unknown import kind", code="unknown_kind")
    return found


def _require(session: Session, actor: Actor, kind: Kind, action: str) -> None:
    if actor.kind == "system" or allows(actor.role, kind.permission):
        return
    audit.record_refusal(
        session,
        actor=actor,
        action=action,
        target_type="import",
        detail={"reason": "permission_denied"},
    )
    raise PermissionDenied(
        "当前角色无权导入 / your role may not import", permission=kind.permission.value
    )


def max_bytes(session: Session) -> int:
    return settings_of(session).registry_import_max_mb * 1024 * 1024


def stage_import(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    filename: str,
    content: bytes,
    source_department: str,
) -> ImportBatch:
    """Keep an uploaded file as a batch to check; refuse it at once when it is too large, not a
    workbook or its header row does not match the template."""
    spec = _kind(kind)
    _require(session, actor, spec, f"{kind}.import_upload")
    source = " ".join(source_department.split())[:60]
    if not source:
        raise ValidationFailed(
            "请填写数据来源部门 / name the sending department", code="source_required"
        )
    check_size(len(content), max_bytes(session))
    open_rows(content, spec.columns, max_bytes=max_bytes(session)).close()
    batch = ImportBatch(
        kind=kind,
        status="uploaded",
        region_code=actor.region_code,
        source_department=source,
        filename=filename[-200:] or "upload.xlsx",
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        content=content,
        created_by=actor.name[:64],
        created_by_user_id=actor.user_id,
        created_by_role=actor.role.value if actor.role else None,
    )
    session.add(batch)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"{kind}.import_upload",
        target_type="import",
        target_id=batch.id,
        detail={
            "filename": batch.filename,
            "sha256": batch.sha256,
            "source": source,
        },
    )
    return batch


def get_batch(session: Session, *, actor: Actor, batch_id: int) -> ImportBatch:
    batch = session.get(ImportBatch, batch_id)
    if batch is None or (
        actor.kind != "system"
        and not (
            is_within(batch.region_code, actor.region_code)
            and allows(actor.role, _kind(batch.kind).permission)
        )
    ):
        raise NotFound(f"导入批次不存在: {batch_id} / no such import", code="import_not_found")
    return batch


def list_batches(
    session: Session, *, actor: Actor, kind: str, limit: int = 20
) -> list[ImportBatch]:
    _require(session, actor, _kind(kind), f"{kind}.import_list")
    return list(
        session.scalars(
            select(ImportBatch)
            .where(ImportBatch.kind == kind, within(ImportBatch.region_code, actor.region_code))
            .order_by(ImportBatch.id.desc())
            .limit(limit)
        )
    )


def request_run(session: Session, *, actor: Actor, batch_id: int, write: bool) -> ImportBatch:
    """Mark the batch to be checked (``write`` False, the dry run) or imported; the caller
    enqueues :data:`JOB` with the batch id once this commits."""
    batch = get_batch(session, actor=actor, batch_id=batch_id)
    _require(session, actor, _kind(batch.kind), f"{batch.kind}.import_run")
    if batch.status in ("checking", "importing", "queued_check", "queued_import"):
        raise IllegalTransition(
            "该批次正在处理 / this batch is being processed", code="import_running"
        )
    if batch.status == "imported":
        raise IllegalTransition("该批次已导入 / this batch is already imported", code="import_done")
    batch.status = "queued_import" if write else "queued_check"
    batch.done_rows, batch.error = 0, ""
    if batch.problems:  # a file once rejected is counted again from the start
        batch.total_rows = 0
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"{batch.kind}.import_{'run' if write else 'check'}",
        target_type="import",
        target_id=batch.id,
    )
    return batch


def _actor_of(batch: ImportBatch) -> Actor:
    return Actor(
        kind="user",
        name=batch.created_by,
        region_code=batch.region_code,
        role=Role(batch.created_by_role) if batch.created_by_role else None,
        user_id=batch.created_by_user_id,
    )


def _set(factory: sessionmaker[Session], batch_id: int, **values: Any) -> None:
    with factory() as s:
        s.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(**values))
        s.commit()


def _processor(kind: str) -> Callable[[Session, ImportPass], Outcome]:
    return elder_imports.process if kind == "elders" else device_imports.process


def run_batch(factory: sessionmaker[Session], batch_id: int) -> str:
    """Check (and, when asked, import) one batch; returns its final status. Idempotent: a batch
    already finished is left as it is, and an import re-run finds its rows on record."""
    with factory() as s:
        batch = s.get(ImportBatch, batch_id)
        if batch is None or batch.status not in ("queued_check", "queued_import"):
            return batch.status if batch is not None else "missing"
        write, kind = batch.status == "queued_import", batch.kind
    progress_on_side = factory.kw["bind"].dialect.name != "sqlite"
    _set(factory, batch_id, status="importing" if write else "checking", done_rows=0)

    def progress(done: int) -> None:
        if progress_on_side:
            _set(factory, batch_id, done_rows=done)

    try:
        # an import checks as it writes (one pass over the file) and keeps nothing when a row
        # turns out bad
        outcome = (_write if write else _check)(factory, batch_id, kind, progress)
    except Exception as exc:  # the job records why, so the page can say it
        log.exception("导入批次失败 / import batch %s failed", batch_id)
        _set(
            factory,
            batch_id,
            status="failed",
            finished_at=utcnow(),
            error=f"导入失败, 未写入任何数据, 可重试 / import failed, nothing written: "
            f"{type(exc).__name__}"[:500],
        )
        return "failed"
    status = "rejected" if outcome.problems else ("imported" if write else "checked")
    with factory() as s:
        batch = s.get(ImportBatch, batch_id)
        assert batch is not None
        batch.status, batch.finished_at = status, utcnow()
        batch.total_rows, batch.done_rows = outcome.rows, outcome.rows
        batch.new_rows, batch.unchanged_rows = outcome.new, outcome.unchanged
        batch.bad_rows = outcome.bad_rows
        batch.problems = [p.as_dict() for p in outcome.problems[:5000]]
        audit.record(
            s,
            actor=_actor_of(batch),
            action=f"{kind}.import_{status}",
            target_type="import",
            target_id=batch.id,
            detail={
                "rows": outcome.rows,
                "new": outcome.new,
                "unchanged": outcome.unchanged,
                "bad_rows": outcome.bad_rows,
            },
        )
        s.commit()
    return status


def _process(
    s: Session, batch: ImportBatch, progress: Callable[[int], None], write: bool
) -> Outcome:
    spec = _kind(batch.kind)
    source = Source(batch.source_department, f"import-{batch.id}", utcnow()) if write else None
    run = ImportPass(
        rows=open_rows(batch.content, spec.columns, max_bytes=max(batch.size_bytes, 1)),
        scope_region=batch.region_code,
        today=clock.today_in(s),
        source=source,
        progress=progress,
    )
    return _processor(batch.kind)(s, run)


def _check(
    factory: sessionmaker[Session], batch_id: int, kind: str, progress: Callable[[int], None]
) -> Any:
    with factory() as s:
        batch = s.get(ImportBatch, batch_id)
        assert batch is not None
        outcome = _process(s, batch, progress, write=False)
        s.rollback()  # a check writes nothing (regions it looked up stay as they were)
        return outcome


def _write(
    factory: sessionmaker[Session], batch_id: int, kind: str, progress: Callable[[int], None]
) -> Any:
    with factory() as s:
        batch = s.get(ImportBatch, batch_id)
        assert batch is not None
        outcome = _process(s, batch, progress, write=True)
        if outcome.problems:  # one bad row: nothing of the file is kept
            s.rollback()
        else:
            audit.record(
                s,
                actor=_actor_of(batch),
                action=f"{kind}.import_write",
                target_type="import",
                target_id=batch_id,
                detail={
                    "new": outcome.new,
                    "first_id": min(outcome.ids, default=None),
                    "last_id": max(outcome.ids, default=None),
                },
            )
            s.commit()
        return outcome


def run_batch_job(batch_id: int) -> str:
    """RQ entry point."""
    return run_batch(current_runtime().session_factory, batch_id)


def batch_view(batch: ImportBatch, tz: str) -> dict[str, Any]:
    total = batch.total_rows  # known once the file has been read through
    return {
        "id": batch.id,
        "kind": batch.kind,
        "status": batch.status,
        "status_label": STATUS_LABELS.get(batch.status, batch.status),
        "finished": batch.status in FINISHED,
        "filename": batch.filename,
        "source": batch.source_department,
        "rows": batch.total_rows,
        "done": batch.done_rows,
        "percent": min(100, round(100 * batch.done_rows / total)) if total else 0,
        "new": batch.new_rows,
        "unchanged": batch.unchanged_rows,
        "bad_rows": batch.bad_rows,
        "problems": batch.problems[:500],
        "more_problems": max(0, len(batch.problems) - 500),
        "error": batch.error,
        "created_by": batch.created_by,
        "created_at": clock.local(batch.created_at, tz).strftime("%Y-%m-%d %H:%M"),
    }


STATUS_LABELS = {
    "uploaded": "已上传, 待试导入",
    "queued_check": "排队试导入",
    "checking": "试导入检查中",
    "checked": "检查通过, 可正式导入",
    "rejected": "有错误行, 未写入",
    "queued_import": "排队导入",
    "importing": "导入中",
    "imported": "已导入",
    "failed": "导入失败, 未写入",
}
