"""Heartbeats: each device type has an expected interval; a silent device goes offline.

Heartbeats arrive in bulk (ten thousand devices every few minutes), so a batch is written with
one UPDATE per shape of row; only the few devices whose status changes (back online) go through
the lifecycle table one by one. Raising and clearing the link-fault alarm that goes with a
status change is the flow's job (platform_core.flows.device_reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, Update, bindparam, or_, select, update
from sqlalchemy.orm import Session

from platform_core.actors import system_actor
from platform_core.devices import heartbeat_history
from platform_core.devices.config import heartbeat_intervals
from platform_core.devices.lifecycle import DeviceStatus, can_transition
from platform_core.devices.models import Device
from platform_core.devices.service import set_status
from platform_core.runtime import settings_of
from platform_core.settings import Settings

HEARTBEAT_ACTOR = system_actor("心跳监测", kind="device")
# A heartbeat brings these back online; a device in repair stays in repair however it beats.
_WAKES = frozenset({DeviceStatus.BOUND, DeviceStatus.INSTALLED, DeviceStatus.OFFLINE})
# Devices whose silence is a link fault.
_WATCHED = (DeviceStatus.ONLINE, DeviceStatus.LOW_BATTERY, DeviceStatus.INSTALLED)


@dataclass(frozen=True)
class Heartbeat:
    device_ref: str  # serial or IMEI
    at: datetime  # when we received it
    battery_pct: int | None = None


@dataclass
class HeartbeatResult:
    recorded: int = 0
    unknown: list[str] = field(default_factory=list)
    came_online: list[Device] = field(default_factory=list)  # first heartbeat, or back
    back_online: list[Device] = field(default_factory=list)  # of those, the ones that were offline


def expected_interval_s(settings: Settings, device: Device) -> int:
    return device.heartbeat_interval_s or heartbeat_intervals(settings)[device.device_type]


def record_heartbeats(session: Session, *, beats: Sequence[Heartbeat]) -> HeartbeatResult:
    """Write the latest heartbeat of each device; wake devices that were offline or new."""
    result = HeartbeatResult()
    if not beats:
        return result
    latest: dict[str, Heartbeat] = {}
    battery: dict[str, tuple[datetime, int]] = {}  # the latest beat that told its battery
    for beat in beats:
        known = latest.get(beat.device_ref)
        if known is None or beat.at >= known.at:
            latest[beat.device_ref] = beat
        if beat.battery_pct is not None:
            told = battery.get(beat.device_ref)
            if told is None or beat.at >= told[0]:
                battery[beat.device_ref] = (beat.at, beat.battery_pct)
    refs = set(latest)
    upper = {r.strip().upper() for r in refs}
    rows = session.execute(
        select(Device.id, Device.serial, Device.imei, Device.status).where(
            or_(Device.serial.in_(upper), Device.imei.in_(refs))
        )
    ).all()
    by_ref: dict[str, tuple[int, str]] = {}
    for device_id, serial, imei, status in rows:
        by_ref[serial] = (device_id, status)
        if imei:
            by_ref[imei] = (device_id, status)
    with_battery: list[dict[str, object]] = []
    without_battery: list[dict[str, object]] = []
    waking: list[int] = []
    for ref, beat in latest.items():
        found = by_ref.get(ref) or by_ref.get(ref.strip().upper())
        if found is None:
            result.unknown.append(ref)
            continue
        device_id, status = found
        row: dict[str, object] = {"device_id": device_id, "last_heartbeat_at": beat.at}
        if ref in battery:
            row["battery_pct"] = max(0, min(100, battery[ref][1]))
            with_battery.append(row)
        else:
            without_battery.append(row)
        if DeviceStatus(status) in _WAKES:
            waking.append(device_id)
    for rows_ in (with_battery, without_battery):
        if rows_:
            # Core on the table: the ORM's bulk update by key cost the intake more CPU than the
            # database spent, and held alarms up behind it (one interpreter lock)
            session.connection().execute(_touch(with_battery=rows_ is with_battery), rows_)
    result.recorded = len(with_battery) + len(without_battery)
    # every beat of the batch (not only each device's latest) goes into the hourly history
    heartbeat_history.record(
        session,
        (
            heartbeat_history.Beat(found[0], beat.at, beat.battery_pct)
            for beat in beats
            if (found := by_ref.get(beat.device_ref) or by_ref.get(beat.device_ref.strip().upper()))
        ),
    )
    if waking:
        for device in session.scalars(
            select(Device).where(Device.id.in_(waking)).with_for_update()
        ):
            if DeviceStatus(device.status) in _WAKES and can_transition(
                device.status, DeviceStatus.ONLINE
            ):
                was_offline = device.status == DeviceStatus.OFFLINE
                set_status(
                    session,
                    device=device,
                    to=DeviceStatus.ONLINE,
                    actor=HEARTBEAT_ACTOR,
                    reason="收到心跳 / heartbeat received",
                )
                result.came_online.append(device)
                if was_offline:
                    result.back_online.append(device)
    session.flush()
    return result


_DEVICES: Table = Device.__table__  # type: ignore[assignment]


def _touch(*, with_battery: bool) -> Update:
    """The heartbeat's update of one device, run for every row of a batch."""
    values: dict[str, Any] = {"last_heartbeat_at": bindparam("last_heartbeat_at")}
    if with_battery:
        values["battery_pct"] = bindparam("battery_pct")
    return update(_DEVICES).where(_DEVICES.c.id == bindparam("device_id")).values(values)


def find_silent(session: Session, *, now: datetime) -> list[Device]:
    """Watched devices whose last heartbeat (or installation) is older than interval x grace."""
    settings = settings_of(session)
    table = heartbeat_intervals(settings)
    shortest = min([*table.values(), *(v for v in [settings.heartbeat_check_interval_s] if v)])
    # a cheap first cut in SQL, the exact per-device rule in Python
    cutoff = now - timedelta(seconds=shortest * settings.heartbeat_grace_factor)
    q = select(Device).where(
        Device.status.in_([s.value for s in _WATCHED]),
        Device.elder_id.is_not(None),
        or_(
            Device.last_heartbeat_at < cutoff,
            (Device.last_heartbeat_at.is_(None) & (Device.installed_at < cutoff)),
        ),
    )
    silent = []
    for device in session.scalars(q):
        since = device.last_heartbeat_at or device.installed_at
        if since is None:
            continue
        limit = timedelta(
            seconds=expected_interval_s(settings, device) * settings.heartbeat_grace_factor
        )
        if now - since > limit:
            silent.append(device)
    return silent


def mark_offline(session: Session, *, devices: Sequence[Device], now: datetime) -> list[Device]:
    """Silent devices go offline (those already moved on by a concurrent check are skipped)."""
    changed = []
    for device in devices:
        session.refresh(device, with_for_update=True)
        if DeviceStatus(device.status) in _WATCHED and can_transition(
            device.status, DeviceStatus.OFFLINE
        ):
            silent_s = int(
                (now - (device.last_heartbeat_at or device.installed_at or now)).total_seconds()
            )
            set_status(
                session,
                device=device,
                to=DeviceStatus.OFFLINE,
                actor=HEARTBEAT_ACTOR,
                reason=f"{silent_s} 秒无心跳 / no heartbeat for {silent_s} s",
            )
            changed.append(device)
    session.flush()
    return changed
