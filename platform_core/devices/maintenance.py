"""Maintenance tickets: a fault report (报修) puts a technician on site within the deadline
(``maintenance_onsite_hours``, 48 h by default), the repair or a replacement is recorded, free of
charge within the service period; a deceased elder's devices are recovered the same way.

Deadlines are watched by :func:`escalate_overdue` (a periodic job): a ticket with nobody on site
by its deadline is escalated, and again every further deadline-length while it stays so.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import utcnow
from platform_core.devices.events import (
    MaintenanceTicketOpened,
    MaintenanceTicketOverdue,
    MaintenanceTicketResolved,
)
from platform_core.devices.lifecycle import IN_SERVICE, DeviceStatus, can_transition
from platform_core.devices.models import Device, MaintenanceTicket
from platform_core.devices.service import bind_device, get_device, set_status
from platform_core.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.regions.service import require_within, within
from platform_core.runtime import settings_of


class TicketNotFound(NotFound):
    code = "ticket_not_found"


OPEN = ("open", "on_site")


def _key(device_id: int, kind: str) -> str:
    return f"{device_id}:{kind}"


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def service_until(session: Session, device: Device) -> date | None:
    """The end of the device's service period (set at installation, else from it)."""
    if device.service_until is not None:
        return device.service_until
    if device.installed_at is None:
        return None
    tz = ZoneInfo(settings_of(session).timezone)
    return add_months(
        device.installed_at.astimezone(tz).date(), settings_of(session).device_service_months
    )


def _today(session: Session) -> date:
    return utcnow().astimezone(ZoneInfo(settings_of(session).timezone)).date()


def get_ticket(session: Session, *, ticket_id: int, lock: bool = False) -> MaintenanceTicket:
    ticket = session.get(MaintenanceTicket, ticket_id, with_for_update=lock or None)
    if ticket is None:
        raise TicketNotFound(f"维修工单不存在: {ticket_id} / no such ticket")
    return ticket


def find_open_ticket(
    session: Session, *, device_id: int, kind: str = "repair"
) -> MaintenanceTicket | None:
    return session.scalar(
        select(MaintenanceTicket).where(MaintenanceTicket.open_key == _key(device_id, kind))
    )


def list_tickets(
    session: Session, *, region_code: str, open_only: bool = True, limit: int = 200
) -> list[MaintenanceTicket]:
    q = select(MaintenanceTicket).where(within(MaintenanceTicket.region_code, region_code))
    if open_only:
        q = q.where(MaintenanceTicket.status.in_(OPEN))
    return list(session.scalars(q.order_by(MaintenanceTicket.on_site_due_at).limit(limit)))


def _open(
    session: Session,
    *,
    device: Device,
    kind: str,
    source: str,
    fault: str,
    fault_code: str,
    actor: Actor,
    elder_id: int | None = None,
) -> MaintenanceTicket:
    now = utcnow()
    due = now + timedelta(hours=settings_of(session).maintenance_onsite_hours)
    ticket = MaintenanceTicket(
        kind=kind,
        device_id=device.id,
        elder_id=elder_id if elder_id is not None else device.elder_id,
        region_code=device.region_code or settings_of(session).home_region_code,
        status="open",
        open_key=_key(device.id, kind),
        source=source,
        fault=fault[:500],
        fault_code=fault_code[:20],
        opened_at=now,
        opened_by=actor.label[:64],
        on_site_due_at=due,
    )
    session.add(ticket)
    session.flush()
    publish_on_commit(
        session,
        MaintenanceTicketOpened(
            ticket_id=ticket.id,
            kind=kind,
            device_id=device.id,
            region_code=ticket.region_code,
            on_site_due_at=due.isoformat(),
        ),
    )
    return ticket


def report_fault(
    session: Session,
    *,
    device_id: int,
    fault: str,
    actor: Actor,
    source: str = "agent",
    fault_code: str = "",
) -> MaintenanceTicket:
    """Open a repair ticket (a repeated report of the same device folds into the open one) and
    mark the device faulty."""
    device = get_device(session, device_id=device_id)
    if device.region_code and actor.kind == "user":
        require_within(device.region_code, actor.region_code)
    if device.status not in IN_SERVICE:
        raise IllegalTransition(
            "设备不在服务中, 不能报修 / the device is not in service", code="device_not_in_service"
        )
    if not fault.strip():
        raise ValidationFailed("请描述故障 / describe the fault", code="fault_required")
    existing = find_open_ticket(session, device_id=device.id)
    if existing is not None:
        existing.reports += 1
        if fault.strip() not in existing.fault:
            existing.fault = (existing.fault + "; " + fault.strip())[:500]
        session.flush()
        return existing
    if can_transition(device.status, DeviceStatus.FAULT) and device.status != DeviceStatus.FAULT:
        set_status(
            session,
            device=device,
            to=DeviceStatus.FAULT,
            actor=actor,
            reason=f"报修: {fault.strip()}"[:255],
        )
    return _open(
        session,
        device=device,
        kind="repair",
        source=source,
        fault=fault.strip(),
        fault_code=fault_code,
        actor=actor,
    )


def open_recovery(
    session: Session, *, device: Device, elder_id: int | None, actor: Actor, reason: str
) -> MaintenanceTicket:
    """A deactivated device to be collected from the home (the elder died)."""
    existing = find_open_ticket(session, device_id=device.id, kind="recovery")
    if existing is not None:
        return existing
    repair = find_open_ticket(session, device_id=device.id)
    if repair is not None:
        _resolve(session, repair, resolution="cancelled", actor=actor, note=reason)
    return _open(
        session,
        device=device,
        kind="recovery",
        source="death",
        fault=reason,
        fault_code="",
        actor=actor,
        elder_id=elder_id,
    )


def assign(session: Session, *, ticket_id: int, technician: str, actor: Actor) -> MaintenanceTicket:
    ticket = _editable(session, ticket_id, actor)
    if not technician.strip():
        raise ValidationFailed("请填写维修人员 / name the technician", code="technician_required")
    ticket.technician, ticket.assigned_at = technician.strip()[:64], utcnow()
    session.flush()
    return ticket


def record_on_site(session: Session, *, ticket_id: int, actor: Actor) -> MaintenanceTicket:
    """The technician is at the home: the deadline is met; a repair puts the device under repair."""
    ticket = _editable(session, ticket_id, actor)
    if ticket.status == "on_site":
        return ticket
    ticket.status, ticket.on_site_at = "on_site", utcnow()
    device = get_device(session, device_id=ticket.device_id)
    if ticket.kind == "repair" and can_transition(device.status, DeviceStatus.UNDER_REPAIR):
        set_status(
            session,
            device=device,
            to=DeviceStatus.UNDER_REPAIR,
            actor=actor,
            reason=f"维修单 {ticket.id} 到场",
        )
    session.flush()
    return ticket


def _editable(session: Session, ticket_id: int, actor: Actor) -> MaintenanceTicket:
    ticket = get_ticket(session, ticket_id=ticket_id, lock=True)
    if actor.kind == "user":
        require_within(ticket.region_code, actor.region_code)
    if ticket.status not in OPEN:
        raise IllegalTransition("维修单已完结 / the ticket is resolved", code="ticket_resolved")
    return ticket


def _resolve(
    session: Session,
    ticket: MaintenanceTicket,
    *,
    resolution: str,
    actor: Actor,
    note: str = "",
    within_period: bool | None = None,
    free: bool | None = None,
) -> None:
    ticket.status, ticket.open_key = "resolved", None
    ticket.resolved_at, ticket.resolved_by = utcnow(), actor.label[:64]
    ticket.resolution = resolution
    ticket.within_service_period, ticket.free_of_charge = within_period, free
    if note.strip():
        ticket.note = (ticket.note + "\n" + note.strip()).strip()[:1000]
    session.flush()
    publish_on_commit(
        session,
        MaintenanceTicketResolved(
            ticket_id=ticket.id,
            region_code=ticket.region_code,
            resolution=resolution,
            free_of_charge=free,
        ),
    )


def _charging(session: Session, device: Device, charged: bool | None) -> tuple[bool | None, bool]:
    """(within the service period, free of charge): free within it whatever is asked."""
    until = service_until(session, device)
    within_period = None if until is None else _today(session) <= until
    if within_period:
        return True, True
    return within_period, not bool(charged)


def record_repair(
    session: Session, *, ticket_id: int, actor: Actor, note: str = "", charged: bool | None = None
) -> MaintenanceTicket:
    """Repaired on site: the device is back online; free within the service period."""
    ticket = _editable(session, ticket_id, actor)
    if ticket.kind != "repair":
        raise IllegalTransition(
            "回收单不能记录维修 / a recovery is not repaired", code="not_a_repair"
        )
    if ticket.on_site_at is None:
        record_on_site(session, ticket_id=ticket.id, actor=actor)
    device = get_device(session, device_id=ticket.device_id)
    within_period, free = _charging(session, device, charged)
    if can_transition(device.status, DeviceStatus.ONLINE) and device.status != DeviceStatus.ONLINE:
        set_status(
            session,
            device=device,
            to=DeviceStatus.ONLINE,
            actor=actor,
            reason=f"维修单 {ticket.id} 修复",
        )
    _resolve(
        session,
        ticket,
        resolution="repaired",
        actor=actor,
        note=note,
        within_period=within_period,
        free=free,
    )
    return ticket


def replace_device(
    session: Session,
    *,
    ticket_id: int,
    new_device_id: int,
    actor: Actor,
    note: str = "",
    charged: bool | None = None,
) -> Device:
    """Swap the faulty device for one from stock: the old one is marked replaced and leaves the
    elder, the new one is bound and installed in its place, keeping the old service period."""
    ticket = _editable(session, ticket_id, actor)
    if ticket.kind != "repair":
        raise IllegalTransition(
            "回收单不能更换设备 / a recovery is not replaced", code="not_a_repair"
        )
    old = get_device(session, device_id=ticket.device_id)
    new = get_device(session, device_id=new_device_id)
    if new.status != DeviceStatus.IN_STOCK:
        raise Conflict(
            "替换设备必须在库存中 / the replacement must come from stock",
            code="replacement_not_in_stock",
        )
    if new.device_type != old.device_type:
        raise Conflict(
            "替换设备类型不同 / the replacement is another kind of device",
            code="replacement_type_mismatch",
        )
    if old.elder_id is None:
        raise IllegalTransition(
            "原设备未绑定老人 / the device serves nobody", code="device_not_bound"
        )
    if ticket.on_site_at is None:
        record_on_site(session, ticket_id=ticket.id, actor=actor)
    within_period, free = _charging(session, old, charged)
    elder_id, period, installed = old.elder_id, service_until(session, old), utcnow()
    set_status(
        session,
        device=old,
        to=DeviceStatus.REPLACED,
        actor=actor,
        reason=f"维修单 {ticket.id} 更换为 {new.serial}",
    )
    old.elder_id = None
    session.flush()
    bind_device(session, device_id=new.id, elder_id=elder_id, actor=actor)
    install_device(session, device_id=new.id, actor=actor, at=installed)
    new.service_until = period if within_period else new.service_until
    ticket.replacement_device_id = new.id
    _resolve(
        session,
        ticket,
        resolution="replaced",
        actor=actor,
        note=note,
        within_period=within_period,
        free=free,
    )
    return new


def record_recovery(
    session: Session, *, ticket_id: int, actor: Actor, note: str = ""
) -> MaintenanceTicket:
    """The deactivated device was collected and goes back to stock."""
    ticket = _editable(session, ticket_id, actor)
    if ticket.kind != "recovery":
        raise IllegalTransition("不是回收单 / not a recovery ticket", code="not_a_recovery")
    if ticket.on_site_at is None:
        record_on_site(session, ticket_id=ticket.id, actor=actor)
    device = get_device(session, device_id=ticket.device_id)
    if can_transition(device.status, DeviceStatus.IN_STOCK):
        set_status(
            session,
            device=device,
            to=DeviceStatus.IN_STOCK,
            actor=actor,
            reason=f"回收单 {ticket.id} 已回收入库",
        )
        device.service_until = None
    _resolve(session, ticket, resolution="recovered", actor=actor, note=note)
    return ticket


def install_device(
    session: Session, *, device_id: int, actor: Actor, at: datetime | None = None
) -> Device:
    """A bound device is installed at the elder's home; its service period starts now."""
    device = get_device(session, device_id=device_id)
    if device.region_code and actor.kind == "user":
        require_within(device.region_code, actor.region_code)
    if device.status == DeviceStatus.INSTALLED:
        return device
    at = at or utcnow()
    set_status(
        session, device=device, to=DeviceStatus.INSTALLED, actor=actor, reason="安装 / installed"
    )
    device.installed_at = at
    tz = ZoneInfo(settings_of(session).timezone)
    device.service_until = add_months(
        at.astimezone(tz).date(), settings_of(session).device_service_months
    )
    session.flush()
    return device


def escalate_overdue(session: Session, *, now: datetime | None = None) -> list[MaintenanceTicket]:
    """Tickets past their on-site deadline with nobody there: escalate, and again each further
    deadline-length (idempotent within that period)."""
    now = now or utcnow()
    period = timedelta(hours=settings_of(session).maintenance_onsite_hours)
    overdue = list(
        session.scalars(
            select(MaintenanceTicket)
            .where(MaintenanceTicket.status == "open", MaintenanceTicket.on_site_due_at < now)
            .with_for_update()
        )
    )
    escalated = []
    for ticket in overdue:
        if ticket.escalated_at is not None and now - ticket.escalated_at < period:
            continue
        ticket.escalated_at, ticket.escalations = now, ticket.escalations + 1
        escalated.append(ticket)
        publish_on_commit(
            session,
            MaintenanceTicketOverdue(
                ticket_id=ticket.id,
                region_code=ticket.region_code,
                on_site_due_at=ticket.on_site_due_at.isoformat(),
                escalations=ticket.escalations,
            ),
        )
    session.flush()
    return escalated
