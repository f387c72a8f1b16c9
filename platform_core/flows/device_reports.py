"""What devices report, applied across devices and alarms in one unit of work.

- Alarm and restore signals become alarms (platform_core.alarms.intake); the family hears of an
  emergency raised; a low-battery alarm also marks the device low on battery, its restore marks
  it online again.
- Heartbeats keep devices online; a device that was offline and beats again clears its
  link-fault alarm (a restore of its own).
- Silence: a device that missed its heartbeats goes offline and raises a link-fault alarm, once
  per silence (the alarm's message key is the last heartbeat's time).
- A fault a device reports about itself opens a maintenance ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.alarms import notify
from platform_core.alarms.intake import record_signals
from platform_core.alarms.schemas import Signal, SignalOutcome
from platform_core.alarms.vocabulary import AlarmType
from platform_core.db import utcnow
from platform_core.devices import heartbeats, maintenance
from platform_core.devices.heartbeats import HEARTBEAT_ACTOR, Heartbeat, HeartbeatResult
from platform_core.devices.lifecycle import DeviceStatus, can_transition
from platform_core.devices.models import Device
from platform_core.devices.service import set_status
from platform_core.errors import DomainError

PLATFORM = "platform"


@dataclass(frozen=True)
class FaultReport:
    """A device telling us it is broken (self-test failed, tamper, sensor fault)."""

    device_ref: str
    fault_code: str
    description: str
    received_at: datetime
    vendor: str = ""


@dataclass
class FaultOutcome:
    report: FaultReport
    result: str  # opened, folded, unknown_device, not_in_service
    ticket_id: int | None = None


@dataclass
class HeartbeatOutcome:
    heartbeats: HeartbeatResult
    restores: list[SignalOutcome] = field(default_factory=list)


def receive_signals(
    session: Session, *, signals: Sequence[Signal], tell_family: bool = True
) -> list[SignalOutcome]:
    """Record the signals; the family of each emergency raised is told in the same unit of work
    unless ``tell_family`` is False (the caller then calls :func:`tell_families` itself)."""
    outcomes = record_signals(session, signals=signals)
    if tell_family:
        tell_families(session, outcomes=outcomes)
    battery = [
        o
        for o in outcomes
        if o.signal.alarm_type is AlarmType.LOW_BATTERY
        and o.device_id is not None
        and o.result in ("raised", "folded", "reopened", "restored", "closed_by_restore")
    ]
    if battery:
        devices = {
            d.id: d
            for d in session.scalars(
                select(Device).where(Device.id.in_({o.device_id for o in battery}))
            )
        }
        for o in battery:
            device = devices[o.device_id or 0]
            target = DeviceStatus.LOW_BATTERY if o.signal.kind == "alarm" else DeviceStatus.ONLINE
            movable = device.status in (DeviceStatus.ONLINE, DeviceStatus.LOW_BATTERY)
            if movable and device.status != target and can_transition(device.status, target):
                set_status(
                    session,
                    device=device,
                    to=target,
                    actor=HEARTBEAT_ACTOR,
                    reason="低电量告警" if o.signal.kind == "alarm" else "电量恢复",
                )
    return outcomes


def raised_alarm_ids(outcomes: Sequence[SignalOutcome]) -> list[int]:
    return [o.alarm_id for o in outcomes if o.result == "raised" and o.alarm_id is not None]


def tell_families(session: Session, *, outcomes: Sequence[SignalOutcome]) -> int:
    return notify.tell_family_of_raise(session, alarm_ids=raised_alarm_ids(outcomes))


def receive_heartbeats(session: Session, *, beats: Sequence[Heartbeat]) -> HeartbeatOutcome:
    result = heartbeats.record_heartbeats(session, beats=beats)
    restores = [
        Signal(
            device_ref=device.serial,
            kind="restore",
            alarm_type=AlarmType.LINK_FAULT,
            occurred_at=device.last_heartbeat_at or utcnow(),
            received_at=device.last_heartbeat_at or utcnow(),
            msg_key=f"online:{device.id}:{int((device.last_heartbeat_at or utcnow()).timestamp())}",
            vendor=PLATFORM,
            protocol="heartbeat",
            transport="job",
            event_code="HB-BACK",
        )
        for device in result.back_online
    ]
    return HeartbeatOutcome(result, record_signals(session, signals=restores) if restores else [])


def raise_link_faults(session: Session, *, now: datetime | None = None) -> list[SignalOutcome]:
    """Silent devices go offline, each with a link-fault alarm (idempotent)."""
    now = now or utcnow()
    offline = heartbeats.mark_offline(
        session, devices=heartbeats.find_silent(session, now=now), now=now
    )
    signals = []
    for device in offline:
        since = device.last_heartbeat_at or device.installed_at or now
        signals.append(
            Signal(
                device_ref=device.serial,
                kind="alarm",
                alarm_type=AlarmType.LINK_FAULT,
                occurred_at=since,
                received_at=now,
                msg_key=f"silent:{device.id}:{int(since.timestamp())}",
                vendor=PLATFORM,
                protocol="heartbeat",
                transport="job",
                event_code="HB-MISS",
                detail={"silent_s": int((now - since).total_seconds())},
            )
        )
    return record_signals(session, signals=signals) if signals else []


def receive_faults(session: Session, *, reports: Sequence[FaultReport]) -> list[FaultOutcome]:
    out = []
    for report in reports:
        ref = report.device_ref
        device = session.scalar(
            select(Device).where((Device.serial == ref.strip().upper()) | (Device.imei == ref))
        )
        if device is None:
            out.append(FaultOutcome(report, "unknown_device"))
            continue
        existing = maintenance.find_open_ticket(session, device_id=device.id)
        try:
            with session.begin_nested():
                ticket = maintenance.report_fault(
                    session,
                    device_id=device.id,
                    fault=report.description or report.fault_code,
                    fault_code=report.fault_code,
                    source="device",
                    actor=HEARTBEAT_ACTOR,
                )
        except DomainError:  # a retired device: noted, the rest of the batch goes on
            out.append(FaultOutcome(report, "not_in_service"))
            continue
        out.append(FaultOutcome(report, "folded" if existing else "opened", ticket.id))
    return out
