"""The device registry as its keepers use it (智能设备管理): a region's devices a page at a time,
one device's history, registration into stock, binding, installation, a fault report, the
48-hour repair board with who is late, return visits due, and retirement.

Every command checks the keeper's permission (``manage_devices``) and region here, then calls
the device services (``service``, ``maintenance``, ``return_visits``), and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.permissions import Permission, allows
from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.devices import heartbeat_history, maintenance, return_visits
from platform_core.devices import service as devices
from platform_core.devices.lifecycle import (
    DEVICE_TYPE_LABELS,
    STATUS_LABELS,
    DeviceStatus,
    DeviceType,
)
from platform_core.devices.models import Device, DeviceReturnVisit, MaintenanceTicket
from platform_core.devices.schemas import DeviceIn
from platform_core.elders.models import Elder
from platform_core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from platform_core.regions import codes
from platform_core.regions import service as regions
from platform_core.security.masking import mask_phone

MAX_PAGE = 200


@dataclass(frozen=True)
class DeviceQuery:
    text: str = ""  # serial, IMEI or SIM number
    status: str = ""
    device_type: str = ""


def require(session: Session, actor: Actor, action: str, target_id: int | None = None) -> None:
    if actor.kind == "system" or allows(actor.role, Permission.MANAGE_DEVICES):
        return
    audit.record_refusal(
        session,
        actor=actor,
        action=action,
        target_type="device",
        target_id=target_id,
        detail={"reason": "permission_denied"},
    )
    raise PermissionDenied(
        "当前角色无权管理设备 / your role may not manage devices",
        permission=Permission.MANAGE_DEVICES.value,
    )


def _own(session: Session, actor: Actor, device_id: int, action: str) -> Device:
    require(session, actor, action, device_id)
    device = devices.get_device(session, device_id=device_id)
    if device.region_code is None or not codes.is_within(device.region_code, actor.region_code):
        audit.record_refusal(
            session,
            actor=actor,
            action=action,
            target_type="device",
            target_id=device_id,
            detail={"reason": "out_of_region"},
        )
        regions.require_within(device.region_code or "000000000000", actor.region_code)
    return device


def _audit(session: Session, actor: Actor, action: str, device_id: int, **detail: Any) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="device",
        target_id=device_id,
        detail=detail,
    )


def _row(d: Device) -> dict[str, Any]:
    return {
        "id": d.id,
        "serial": d.serial,
        "type_label": DEVICE_TYPE_LABELS[DeviceType(d.device_type)],
        "sim_masked": mask_phone(d.sim_number) if d.sim_number else "",
        "status": d.status,
        "status_label": STATUS_LABELS[DeviceStatus(d.status)],
        "elder_id": d.elder_id,
        "region_code": d.region_code,
        "battery_pct": d.battery_pct,
        "last_heartbeat_at": d.last_heartbeat_at,
        "service_until": d.service_until.isoformat() if d.service_until else "",
    }


def search(
    session: Session, *, actor: Actor, query: DeviceQuery, page: int = 0, per_page: int = 50
) -> tuple[list[dict[str, Any]], int, int, int]:
    """(rows, total, page, pages) of the keeper's region's devices."""
    require(session, actor, "device.search")
    stmt = select(Device).where(regions.within(Device.region_code, actor.region_code))
    text = "".join(query.text.split()).upper()[:64]
    if text:
        stmt = stmt.where(
            or_(Device.serial == text, Device.imei == text, Device.sim_number == text)
        )
    if query.status in {s.value for s in DeviceStatus}:
        stmt = stmt.where(Device.status == query.status)
    if query.device_type in {t.value for t in DeviceType}:
        stmt = stmt.where(Device.device_type == query.device_type)
    per_page = max(1, min(per_page, MAX_PAGE))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, (total + per_page - 1) // per_page)
    page = max(0, min(page, pages - 1))
    rows = session.scalars(stmt.order_by(Device.id).limit(per_page).offset(page * per_page))
    return [_row(d) for d in rows], total, page, pages


def detail(session: Session, *, actor: Actor, device_id: int) -> dict[str, Any]:
    """The device with its status history (who, when, why: battery and link changes included)
    and its repair tickets."""
    device = _own(session, actor, device_id, "device.view")
    tz = clock.timezone_of(session)
    tickets = session.scalars(
        select(MaintenanceTicket)
        .where(MaintenanceTicket.device_id == device.id)
        .order_by(MaintenanceTicket.id.desc())
    )
    return {
        **_row(device),
        "imei": device.imei or "",
        "vendor": device.vendor,
        "model": device.model,
        "history": [
            {
                "at": clock.local(c.at, tz).strftime("%Y-%m-%d %H:%M"),
                "from": STATUS_LABELS[DeviceStatus(c.from_status)] if c.from_status else "",
                "to": STATUS_LABELS[DeviceStatus(c.to_status)],
                "by": c.actor_name,
                "reason": c.reason,
            }
            for c in reversed(device.changes)
        ],
        "tickets": [ticket_row(t, utcnow(), tz) for t in tickets],
        "last_heartbeat_at": clock.local(device.last_heartbeat_at, tz).strftime("%Y-%m-%d %H:%M")
        if device.last_heartbeat_at
        else "",
        "heartbeat_hours": heartbeat_history.recent_hours(session, device_id=device.id),
        "heartbeat_days": heartbeat_history.daily(session, device_id=device.id),
        "visits": _visits_of(session, device, tz),
    }


def _visits_of(session: Session, device: Device, tz: str) -> list[dict[str, Any]]:
    """The return visits of the device's elder, the one due first: what is due and what the
    last visits found."""
    if device.elder_id is None:
        return []
    visits = session.scalars(
        select(DeviceReturnVisit)
        .where(DeviceReturnVisit.elder_id == device.elder_id)
        .order_by(DeviceReturnVisit.due_on.desc(), DeviceReturnVisit.id.desc())
        .limit(10)
    )
    today = clock.today_in(session)
    labels = {str(k.value): v for k, v in return_visits.RESULT_LABELS.items()}
    return [
        {
            "id": v.id,
            "due_on": v.due_on.isoformat(),
            "status": v.status,
            "overdue": v.status == "scheduled" and v.due_on <= today,
            "result": labels.get(v.result or "", ""),
            "device_use": return_visits.DEVICE_USE_LABELS.get(
                (v.devices or {}).get(str(device.id), ""), ""
            ),
            "visited_at": clock.local(v.visited_at, tz).strftime("%Y-%m-%d %H:%M")
            if v.visited_at
            else "",
            "visited_by": v.visited_by or "",
            "note": v.note,
        }
        for v in visits
    ]


def register(session: Session, *, actor: Actor, data: DeviceIn) -> Device:
    """Into the keeper's stock."""
    require(session, actor, "device.register")
    device = devices.register_device(session, data=data, actor=actor)
    device.region_code = actor.region_code
    session.flush()
    _audit(session, actor, "device.register", device.id, serial=device.serial)
    return device


def bind(session: Session, *, actor: Actor, device_id: int, elder_id: int) -> Device:
    _own(session, actor, device_id, "device.bind")
    elder = session.get(Elder, elder_id)
    if elder is None or not codes.is_within(elder.region_code, actor.region_code):
        regions.require_within(elder.region_code if elder else "000000000000", actor.region_code)
    device = devices.bind_device(session, device_id=device_id, elder_id=elder_id, actor=actor)
    _audit(session, actor, "device.bind", device_id, elder_id=elder_id)
    return device


def install(session: Session, *, actor: Actor, device_id: int) -> Device:
    _own(session, actor, device_id, "device.install")
    device = maintenance.install_device(session, device_id=device_id, actor=actor)
    _audit(session, actor, "device.install", device_id)
    return device


def report_fault(
    session: Session, *, actor: Actor, device_id: int, fault: str
) -> MaintenanceTicket:
    _own(session, actor, device_id, "device.report_fault")
    ticket = maintenance.report_fault(session, device_id=device_id, fault=fault, actor=actor)
    _audit(session, actor, "device.report_fault", device_id, ticket_id=ticket.id)
    return ticket


def retire(session: Session, *, actor: Actor, device_id: int, reason: str) -> Device:
    """Take a device out of use for good: unbound from its elder when it serves one."""
    device = _own(session, actor, device_id, "device.retire")
    if not reason.strip():
        raise ValidationFailed("请说明停用原因 / give a reason", code="reason_required")
    if device.elder_id is not None:
        devices.unbind_device(
            session, device_id=device_id, actor=actor, reason=reason, to=DeviceStatus.DEACTIVATED
        )
    elif device.status == DeviceStatus.DEACTIVATED:
        return device
    else:
        devices.set_status(
            session,
            device=device,
            to=DeviceStatus.DEACTIVATED,
            actor=actor,
            reason=reason.strip()[:255],
        )
    session.flush()
    _audit(session, actor, "device.retire", device_id, reason=reason.strip()[:255])
    return device


# ---------------------------------------------------------------- the repair board


def ticket_row(t: MaintenanceTicket, now: datetime, tz: str) -> dict[str, Any]:
    late = t.status == "open" and t.on_site_at is None and now > t.on_site_due_at
    return {
        "id": t.id,
        "kind": t.kind,
        "device_id": t.device_id,
        "elder_id": t.elder_id,
        "status": t.status,
        "fault": t.fault,
        "reports": t.reports,
        "opened_at": clock.local(t.opened_at, tz).strftime("%m-%d %H:%M"),
        "due_at": clock.local(t.on_site_due_at, tz).strftime("%m-%d %H:%M"),
        "late": late,
        "late_hours": round((now - t.on_site_due_at).total_seconds() / 3600, 1) if late else 0,
        "technician": t.technician or "",
        "resolution": t.resolution or "",
        "free": t.free_of_charge,
    }


def repair_board(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    """Open tickets of the region, the soonest deadline first; late ones say by how much."""
    require(session, actor, "device.repair_board")
    tz = clock.timezone_of(session)
    now = utcnow()
    return [
        ticket_row(t, now, tz)
        for t in maintenance.list_tickets(session, region_code=actor.region_code)
    ]


def _ticket(session: Session, actor: Actor, ticket_id: int, action: str) -> MaintenanceTicket:
    require(session, actor, action, None)
    ticket = maintenance.get_ticket(session, ticket_id=ticket_id)
    if not codes.is_within(ticket.region_code, actor.region_code):
        audit.record_refusal(
            session,
            actor=actor,
            action=action,
            target_type="ticket",
            target_id=ticket_id,
            detail={"reason": "out_of_region"},
        )
        regions.require_within(ticket.region_code, actor.region_code)
    return ticket


def work_ticket(
    session: Session,
    *,
    actor: Actor,
    ticket_id: int,
    step: str,
    technician: str = "",
    note: str = "",
    replacement_serial: str = "",
) -> MaintenanceTicket:
    """One step of a repair: assign a technician, on site, repaired, replaced by a device from
    stock (free within the service period), or recovered."""
    ticket = _ticket(session, actor, ticket_id, f"ticket.{step}")
    if step == "assign":
        maintenance.assign(session, ticket_id=ticket_id, technician=technician, actor=actor)
    elif step == "on_site":
        maintenance.record_on_site(session, ticket_id=ticket_id, actor=actor)
    elif step == "repaired":
        maintenance.record_repair(session, ticket_id=ticket_id, actor=actor, note=note)
    elif step == "replaced":
        new = devices.find_device_by_serial(session, serial=replacement_serial)
        if (
            new is None
            or new.region_code is None
            or not codes.is_within(new.region_code, actor.region_code)
        ):
            raise ValidationFailed(
                "库存中没有该序列号的设备 / no such device in your stock",
                code="replacement_not_found",
            )
        maintenance.replace_device(
            session, ticket_id=ticket_id, new_device_id=new.id, actor=actor, note=note
        )
    elif step == "recovered":
        maintenance.record_recovery(session, ticket_id=ticket_id, actor=actor, note=note)
    else:
        raise IllegalTransition("未知操作 / unknown step", code="unknown_step")
    audit.record(
        session,
        actor=actor,
        action=f"ticket.{step}",
        target_type="ticket",
        target_id=ticket_id,
        detail={"device_id": ticket.device_id},
    )
    return ticket


# ---------------------------------------------------------------- return visits


def visits_due(
    session: Session, *, actor: Actor, on_or_before: date | None = None
) -> list[DeviceReturnVisit]:
    require(session, actor, "device.visits_due")
    return_visits.schedule_due(session)
    return return_visits.list_due(session, region_code=actor.region_code, on_or_before=on_or_before)


def elders_devices(session: Session, *, elder_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The devices in each elder's home, for the return visit's per-device answers."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in elder_ids}
    if not elder_ids:
        return out
    for d in session.scalars(
        select(Device)
        .where(Device.elder_id.in_(elder_ids), Device.status.in_(return_visits.INSTALLED))
        .order_by(Device.id)
    ):
        assert d.elder_id is not None
        out[d.elder_id].append(
            {"id": d.id, "serial": d.serial, "type": DEVICE_TYPE_LABELS[DeviceType(d.device_type)]}
        )
    return out


def record_visit(
    session: Session,
    *,
    actor: Actor,
    visit_id: int,
    result: str,
    note: str,
    devices: dict[int, str] | None = None,
) -> DeviceReturnVisit:
    require(session, actor, "device.record_visit")
    try:
        visit = return_visits.record_visit(
            session, visit_id=visit_id, result=result, actor=actor, note=note, devices=devices
        )
    except ValueError as exc:
        raise ValidationFailed("回访结果无效 / unknown result", code="invalid_result") from exc
    audit.record(
        session,
        actor=actor,
        action="device.record_visit",
        target_type="elder",
        target_id=visit.elder_id,
        detail={"visit_id": visit_id, "result": result},
    )
    return visit
