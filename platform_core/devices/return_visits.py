"""Periodic return visits (回访) about device use: is the pendant worn, does the elder know how
to press it, is anything wrong? One is scheduled per elder with installed devices, every
``device_return_visit_days`` after the last one (or after the installation)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import utcnow
from platform_core.devices.lifecycle import IN_SERVICE, DeviceStatus
from platform_core.devices.models import Device, DeviceReturnVisit
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import IllegalTransition, NotFound, ValidationFailed
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of


class VisitResult(StrEnum):
    USING_WELL = "using_well"  # 使用正常
    NEEDS_TRAINING = "needs_training"  # 不会使用, 需再培训
    NOT_USED = "not_used"  # 未佩戴 / 未使用
    PROBLEM = "problem"  # 设备有问题 (report a fault too)
    UNREACHABLE = "unreachable"  # 未联系上


RESULT_LABELS = {
    VisitResult.USING_WELL: "使用正常",
    VisitResult.NEEDS_TRAINING: "需再培训",
    VisitResult.NOT_USED: "未佩戴/未使用",
    VisitResult.PROBLEM: "设备有问题",
    VisitResult.UNREACHABLE: "未联系上",
}
DEVICE_USE = ("working", "not_used", "problem")
DEVICE_USE_LABELS = {"working": "正常使用", "not_used": "未使用", "problem": "有问题"}
# Devices that count as being in the elder's home.
INSTALLED = [
    s.value for s in IN_SERVICE if s not in (DeviceStatus.BOUND, DeviceStatus.UNDER_REPAIR)
]


def _today(session: Session) -> date:
    return utcnow().astimezone(ZoneInfo(settings_of(session).timezone)).date()


def schedule_due(session: Session, *, today: date | None = None) -> list[DeviceReturnVisit]:
    """Schedule the next visit of every living elder with installed devices and none scheduled
    (idempotent: an elder never has two visits scheduled)."""
    today = today or _today(session)
    tz = ZoneInfo(settings_of(session).timezone)
    every = timedelta(days=settings_of(session).device_return_visit_days)
    scheduled = select(DeviceReturnVisit.elder_id).where(DeviceReturnVisit.status == "scheduled")
    last_done = (
        select(DeviceReturnVisit.elder_id, func.max(DeviceReturnVisit.due_on).label("last"))
        .where(DeviceReturnVisit.status == "done")
        .group_by(DeviceReturnVisit.elder_id)
        .subquery()
    )
    rows = session.execute(
        select(Elder.id, Elder.region_code, func.min(Device.installed_at), last_done.c.last)
        .join(Device, Device.elder_id == Elder.id)
        .outerjoin(last_done, last_done.c.elder_id == Elder.id)
        .where(
            Elder.status == ElderStatus.ACTIVE.value,
            Device.status.in_(INSTALLED),
            Device.installed_at.is_not(None),
            Elder.id.not_in(scheduled),
        )
        .group_by(Elder.id, Elder.region_code, last_done.c.last)
    ).all()
    created = []
    for elder_id, region_code, installed_at, last in rows:
        base = last or installed_at.astimezone(tz).date()
        visit = DeviceReturnVisit(
            elder_id=elder_id, region_code=region_code, due_on=max(base + every, today)
        )
        session.add(visit)
        created.append(visit)
    session.flush()
    return created


def list_due(
    session: Session, *, region_code: str, on_or_before: date | None = None, limit: int = 200
) -> list[DeviceReturnVisit]:
    day = on_or_before or _today(session)
    return list(
        session.scalars(
            select(DeviceReturnVisit)
            .where(
                DeviceReturnVisit.status == "scheduled",
                DeviceReturnVisit.due_on <= day,
                within(DeviceReturnVisit.region_code, region_code),
            )
            .order_by(DeviceReturnVisit.due_on, DeviceReturnVisit.id)
            .limit(limit)
        )
    )


def record_visit(
    session: Session,
    *,
    visit_id: int,
    result: VisitResult | str,
    actor: Actor,
    devices: dict[int, str] | None = None,
    note: str = "",
) -> DeviceReturnVisit:
    """Record how the visit went (per device: working / not_used / problem); the next one is
    scheduled from its due date by :func:`schedule_due`."""
    result = VisitResult(result)
    visit = session.get(DeviceReturnVisit, visit_id, with_for_update=True)
    if visit is None:
        raise NotFound(f"回访不存在: {visit_id} / no such visit", code="visit_not_found")
    if actor.kind == "user":
        require_within(visit.region_code, actor.region_code)
    if visit.status != "scheduled":
        raise IllegalTransition(
            "该回访已记录 / the visit is already recorded", code="visit_recorded"
        )
    given = {str(k): v for k, v in (devices or {}).items()}
    wrong = sorted(v for v in given.values() if v not in DEVICE_USE)
    if wrong:
        raise ValidationFailed(
            f"设备使用情况只能是 {', '.join(DEVICE_USE)} / unknown device use: {wrong}",
            code="invalid_device_use",
        )
    own = {
        str(d) for d in session.scalars(select(Device.id).where(Device.elder_id == visit.elder_id))
    }
    if set(given) - own:
        raise ValidationFailed(
            "回访记录中有不属于该老人的设备 / a device listed is not the elder's",
            code="invalid_device",
        )
    visit.status, visit.result = "done", result.value
    visit.devices, visit.note = given, note.strip()[:1000]
    visit.visited_at, visit.visited_by = utcnow(), actor.label[:64]
    session.flush()
    return visit


def cancel_for_elder(session: Session, *, elder_id: int) -> int:
    """Cancel scheduled visits (the elder died or gave the devices back)."""
    visits = list(
        session.scalars(
            select(DeviceReturnVisit).where(
                DeviceReturnVisit.elder_id == elder_id, DeviceReturnVisit.status == "scheduled"
            )
        )
    )
    for visit in visits:
        visit.status = "cancelled"
    session.flush()
    return len(visits)
