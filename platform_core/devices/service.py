"""Device registry use cases: register, bind to an elder, unbind, and the lookups."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import utcnow
from platform_core.devices.events import (
    DeviceBound,
    DeviceRegistered,
    DeviceStatusChanged,
    DeviceUnbound,
)
from platform_core.devices.lifecycle import (
    DEVICE_TYPE_LABELS,
    IN_SERVICE,
    STATUS_LABELS,
    DeviceStatus,
    DeviceType,
    check_transition,
)
from platform_core.devices.models import Device, DeviceStatusChange
from platform_core.devices.schemas import DeviceIn
from platform_core.elders import phones
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import Conflict, IllegalTransition, NotFound
from platform_core.events import publish_on_commit
from platform_core.regions import service as regions
from platform_core.security.masking import mask_phone


class DeviceNotFound(NotFound):
    code = "device_not_found"


class DuplicateDevice(Conflict):
    code = "duplicate_device"


def get_device(session: Session, *, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise DeviceNotFound(f"设备不存在: {device_id} / no such device")
    return device


def find_device_by_serial(session: Session, *, serial: str) -> Device | None:
    return session.scalar(select(Device).where(Device.serial == serial.strip().upper()))


def find_device_by_sim(
    session: Session, *, number: str, area_code: str | None = None
) -> Device | None:
    """The device whose SIM has this number (any accepted form), or None; garbage finds nothing."""
    parsed = phones.try_normalize_phone(number, area_code=area_code)
    if parsed is None:
        return None
    return session.scalar(
        select(Device)
        .where(Device.sim_number == parsed.digits)
        .order_by(Device.status == "deactivated", Device.id)
    )


def list_devices_for_elder(session: Session, *, elder_id: int) -> list[Device]:
    return list(session.scalars(_devices_of_elder(), {"elder_id": elder_id}))


@lru_cache(maxsize=1)
def _devices_of_elder() -> Select[Device]:
    """An elder's devices (``elder_id``), built once: every screen pop lists them."""
    return select(Device).where(Device.elder_id == bindparam("elder_id")).order_by(Device.id)


def device_summaries(session: Session, *, elder_id: int) -> list[dict[str, Any]]:
    """What the screen pop shows of an elder's devices (SIM masked)."""
    return [
        {
            "id": d.id,
            "device_type": d.device_type,
            "type_label": DEVICE_TYPE_LABELS[DeviceType(d.device_type)],
            "serial": d.serial,
            "sim_masked": mask_phone(d.sim_number) if d.sim_number else None,
            "status": d.status,
            "status_label": STATUS_LABELS[DeviceStatus(d.status)],
            "battery_pct": d.battery_pct,
            "last_heartbeat_at": d.last_heartbeat_at.isoformat() if d.last_heartbeat_at else None,
        }
        for d in list_devices_for_elder(session, elder_id=elder_id)
    ]


def change_status(
    session: Session, *, device: Device, to: DeviceStatus, actor: Actor, reason: str = ""
) -> None:
    """The one way a device's status changes: checked against the lifecycle table and recorded."""
    check_transition(device.status, to)
    device.changes.append(
        DeviceStatusChange(
            from_status=device.status,
            to_status=to.value,
            elder_id=device.elder_id,
            actor_kind=actor.kind,
            actor_name=actor.label,
            reason=reason,
        )
    )
    device.status = to.value


def set_status(
    session: Session, *, device: Device, to: DeviceStatus, actor: Actor, reason: str
) -> None:
    """Change status through the lifecycle table and tell the consoles."""
    before = device.status
    change_status(session, device=device, to=to, actor=actor, reason=reason)
    publish_on_commit(
        session,
        DeviceStatusChanged(
            device_id=device.id,
            region_code=device.region_code,
            from_status=before,
            to_status=to.value,
            elder_id=device.elder_id,
        ),
    )


def register_device(session: Session, *, data: DeviceIn, actor: Actor) -> Device:
    """Take a device into stock. Serial and IMEI are unique; a SIM in use on another device is refused."""
    if find_device_by_serial(session, serial=data.serial) is not None:
        raise DuplicateDevice(
            f"序列号 {data.serial} 已登记 / serial already registered", serial=data.serial
        )
    if data.imei and session.scalar(select(Device.id).where(Device.imei == data.imei)) is not None:
        raise DuplicateDevice(
            f"IMEI {data.imei} 已登记 / IMEI already registered", code="duplicate_imei"
        )
    if data.sim_number:
        other = session.scalar(
            select(Device.id).where(
                Device.sim_number == data.sim_number,
                Device.status.not_in(["deactivated", "replaced"]),
            )
        )
        if other is not None:
            # Two devices on one SIM would make caller identification ambiguous.
            raise DuplicateDevice(
                "该 SIM 卡号已用于另一台设备 / SIM number already used by another device",
                code="duplicate_sim",
                device_id=other,
            )
    device = Device(
        device_type=data.device_type.value,
        serial=data.serial,
        imei=data.imei,
        sim_number=data.sim_number,
        vendor=data.vendor,
        model=data.model,
        heartbeat_interval_s=data.heartbeat_interval_s,
        status=DeviceStatus.IN_STOCK.value,
    )
    device.changes.append(
        DeviceStatusChange(
            from_status=None,
            to_status=DeviceStatus.IN_STOCK.value,
            actor_kind=actor.kind,
            actor_name=actor.label,
            reason="入库",
        )
    )
    session.add(device)
    session.flush()
    publish_on_commit(
        session, DeviceRegistered(device_id=device.id, device_type=device.device_type)
    )
    return device


def bind_device(session: Session, *, device_id: int, elder_id: int, actor: Actor) -> Device:
    """Bind a device in stock to an active elder (awaiting installation)."""
    device = get_device(session, device_id=device_id)
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"老人档案不存在: {elder_id} / no such elder", code="elder_not_found")
    regions.require_within(elder.region_code, actor.region_code)
    if elder.status == ElderStatus.DECEASED:
        raise IllegalTransition(
            "老人已故, 不能绑定设备 / the elder has died; no device can be bound",
            code="elder_deceased",
            elder_id=elder.id,
        )
    if elder.status == ElderStatus.MOVED:
        raise IllegalTransition(
            "老人已迁出, 不能绑定设备 / the elder moved away", code="elder_moved"
        )
    if device.elder_id is not None:
        if device.elder_id == elder.id:
            return device
        raise Conflict(
            "设备已绑定其他老人 / device is bound to another elder",
            code="device_already_bound",
            elder_id=device.elder_id,
        )
    change_status(
        session, device=device, to=DeviceStatus.BOUND, actor=actor, reason=f"绑定老人 {elder.id}"
    )
    device.elder_id, device.region_code, device.bound_at = elder.id, elder.region_code, utcnow()
    device.changes[-1].elder_id = elder.id
    session.flush()
    publish_on_commit(
        session, DeviceBound(device_id=device.id, elder_id=elder.id, region_code=elder.region_code)
    )
    return device


def unbind_device(
    session: Session,
    *,
    device_id: int,
    actor: Actor,
    reason: str = "",
    to: DeviceStatus = DeviceStatus.IN_STOCK,
) -> Device:
    """Recover a device from its elder: back to stock, or deactivated (the elder died)."""
    device = get_device(session, device_id=device_id)
    if device.elder_id is None or device.status not in IN_SERVICE:
        raise IllegalTransition("设备未绑定老人 / device is not bound", code="device_not_bound")
    if to not in (DeviceStatus.IN_STOCK, DeviceStatus.DEACTIVATED):
        raise IllegalTransition(
            "解绑后只能入库或停用 / unbinding returns a device to stock or deactivates it",
            code="illegal_device_transition",
        )
    if device.region_code:
        regions.require_within(device.region_code, actor.region_code)
    elder_id, region_code = device.elder_id, device.region_code or ""
    change_status(session, device=device, to=to, actor=actor, reason=reason or "解绑")
    device.elder_id, device.bound_at, device.installed_at = None, None, None
    session.flush()
    publish_on_commit(
        session,
        DeviceUnbound(
            device_id=device.id, elder_id=elder_id, region_code=region_code, status=device.status
        ),
    )
    return device


def deactivate_devices_of_elder(
    session: Session, *, elder_id: int, actor: Actor, reason: str
) -> list[Device]:
    """Deactivate and unbind every device serving an elder (death, withdrawal): ``ElderDeceased``
    handlers call this so a dead elder's pendant can no longer raise alarms in their name."""
    devices = [
        d for d in list_devices_for_elder(session, elder_id=elder_id) if d.status in IN_SERVICE
    ]
    for device in devices:
        unbind_device(
            session, device_id=device.id, actor=actor, reason=reason, to=DeviceStatus.DEACTIVATED
        )
    return devices
