"""Text messages about alarms, through the platform's notification service.

The family hears of an SOS, a fall, smoke or gas as soon as it is raised (the first emergency
contact with a mobile), again when an agent presses the button (every contact with a mobile),
and how it ended. Messages are idempotent per alarm and purpose: a retried job or a repeated
batch sends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from platform_core.actors import Actor, system_actor
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import (
    ALARM_TYPE_LABELS,
    NOTIFY_FAMILY_ON_RAISE,
    AlarmType,
)
from platform_core.devices.lifecycle import DEVICE_TYPE_LABELS, DeviceType
from platform_core.devices.models import Device
from platform_core.elders.models import Elder
from platform_core.notifications import service as sms
from platform_core.notifications.models import OutboxMessage
from platform_core.runtime import settings_of

log = logging.getLogger(__name__)
REF_TYPE = "alarm"


def _mobiles(elder: Elder) -> list[tuple[str, str]]:
    """(number, name) of the contacts with a mobile, by priority."""
    out = []
    for contact in sorted(elder.contacts, key=lambda c: (c.priority, c.id)):
        number = sms.mobile_or_none(contact.phone)
        if number:
            out.append((number, contact.name))
    return out


def _local(session: Session, at: datetime) -> str:
    return at.astimezone(ZoneInfo(settings_of(session).timezone)).strftime("%m月%d日%H:%M")


def tell_family_of_raise(
    session: Session, *, alarm_ids: Iterable[int], actor: Actor | None = None
) -> int:
    """The first contact with a mobile hears of each emergency alarm raised; returns how many
    messages were queued (a repeat call queues none)."""
    ids = list(alarm_ids)
    if not ids:
        return 0
    alarms = session.scalars(
        select(Alarm).where(
            Alarm.id.in_(ids),
            Alarm.elder_id.is_not(None),
            Alarm.alarm_type.in_([t.value for t in NOTIFY_FAMILY_ON_RAISE]),
        )
    ).all()
    if not alarms:
        return 0
    elders = {
        e.id: e
        for e in session.scalars(
            select(Elder)
            .where(Elder.id.in_({a.elder_id for a in alarms}))
            .options(selectinload(Elder.contacts))
        )
    }
    kinds = dict(
        session.execute(
            select(Device.id, Device.device_type).where(
                Device.id.in_({a.device_id for a in alarms})
            )
        ).all()
    )
    sent = 0
    for alarm in alarms:
        elder = elders.get(alarm.elder_id or 0)
        mobiles = _mobiles(elder) if elder else []
        if elder is None or not mobiles:
            continue
        number, name = mobiles[0]
        kind = kinds.get(alarm.device_id)
        sms.send_sms(
            session,
            to=number,
            to_name=name,
            template="alarm_family",
            params={
                "elder_name": elder.name,
                "device": DEVICE_TYPE_LABELS[DeviceType(kind)] if kind else "设备",
                "time": _local(session, alarm.received_at),
                "alarm": ALARM_TYPE_LABELS[AlarmType(alarm.alarm_type)],
            },
            actor=actor or system_actor("告警通知", region_code=alarm.region_code),
            ref_type=REF_TYPE,
            ref_id=str(alarm.id),
            region_code=alarm.region_code,
        )
        sent += 1
    return sent


def send_family_notice(
    session: Session,
    *,
    alarm: Alarm,
    elder: Elder,
    text: str,
    purpose: str,
    actor: Actor,
    every: bool,
) -> list[OutboxMessage]:
    """``text`` to the first contact with a mobile, or to ``every`` one; ``purpose`` keeps
    messages of different moments apart (a second button press is a new purpose)."""
    mobiles = _mobiles(elder)
    out = []
    for number, name in mobiles if every else mobiles[:1]:
        out.append(
            sms.send_sms(
                session,
                to=number,
                to_name=name,
                template="notice",
                params={"text": text},
                actor=actor,
                ref_type=REF_TYPE,
                ref_id=f"{alarm.id}:{purpose}",
                region_code=alarm.region_code,
            )
        )
    return out


def family_notified(session: Session, *, alarm_id: int) -> bool:
    """Whether the family has had a message about this alarm (at its raise or from a button)."""
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.ref_type == REF_TYPE,
                (OutboxMessage.ref_id == str(alarm_id))
                | OutboxMessage.ref_id.startswith(f"{alarm_id}:family"),
            )
            .limit(1)
        )
        is not None
    )
