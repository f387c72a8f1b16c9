"""What the alarm panel shows: the list of open alarms, and one alarm with its elder, position,
devices, emergency contacts, medical notes (masked until revealed) and ladder.

Opening an alarm is a profile view and is audited through the elders service, like the screen
pop; revealing the medical notes or a contact's number is a deliberate act, audited here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.alarms import notify, service
from platform_core.alarms.models import Alarm
from platform_core.alarms.vocabulary import (
    ALARM_TYPE_LABELS,
    OUTCOME_LABELS,
    RESULT_LABELS,
    STATUS_LABELS,
    STEP_LABELS,
    AlarmStatus,
    AlarmType,
    Outcome,
    Step,
    StepResult,
)
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.devices.lifecycle import DEVICE_TYPE_LABELS, DeviceType
from platform_core.devices.models import Device
from platform_core.dispatch import service as dispatch
from platform_core.elders import service as elders
from platform_core.elders.models import Elder, EmergencyContact
from platform_core.errors import NotFound, PermissionDenied, ValidationFailed
from platform_core.regions.service import within
from platform_core.security.masking import mask_name

REVEAL_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
MASK = "••••"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def summary(alarm: Alarm, *, elder_name: str | None, device_type: str | None) -> dict[str, Any]:
    """One row of the list (the elder's name masked: the list is seen by the whole region)."""
    return {
        "id": alarm.id,
        "alarm_type": alarm.alarm_type,
        "type_label": ALARM_TYPE_LABELS[AlarmType(alarm.alarm_type)],
        "alarm_class": alarm.alarm_class,
        "priority": alarm.priority,
        "status": alarm.status,
        "status_label": STATUS_LABELS[AlarmStatus(alarm.status)],
        "active": alarm.active,
        "received_at": _iso(alarm.received_at),
        "taken_at": _iso(alarm.taken_at),
        "handler": alarm.handler_name,
        "handler_user_id": alarm.handler_user_id,
        "signal_count": alarm.signal_count,
        "restored_at": _iso(alarm.restored_at),
        "region_code": alarm.region_code,
        "unbound": alarm.unbound,
        "elder_id": alarm.elder_id,
        "elder_name": mask_name(elder_name) if elder_name else None,
        "device_type": device_type,
        "device_label": DEVICE_TYPE_LABELS.get(DeviceType(device_type), "") if device_type else "",
        "timer_rung": alarm.timer_rung,
        "timer_due_at": _iso(alarm.timer_due_at),
        "timer_level": alarm.timer_level,
    }


def open_alarms(
    session: Session, *, region_code: str, now: datetime | None = None
) -> dict[str, Any]:
    """The panel's list: waiting alarms first (most urgent, longest waiting), then those in hand."""
    alarms = service.list_open_alarms(session, region_code=region_code)
    elder_ids = {a.elder_id for a in alarms if a.elder_id}
    device_ids = {a.device_id for a in alarms}
    names = (
        dict(session.execute(select(Elder.id, Elder.name).where(Elder.id.in_(elder_ids))).all())
        if elder_ids
        else {}
    )
    types = (
        dict(
            session.execute(
                select(Device.id, Device.device_type).where(Device.id.in_(device_ids))
            ).all()
        )
        if device_ids
        else {}
    )
    return {
        "server_time": (now or utcnow()).isoformat(),
        "alarms": [
            summary(a, elder_name=names.get(a.elder_id or 0), device_type=types.get(a.device_id))
            for a in alarms
        ],
    }


def _step(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "step": row.step,
        "label": STEP_LABELS[Step(row.step)],
        "result": row.result,
        "result_label": RESULT_LABELS[StepResult(row.result)],
        "contact_id": row.contact_id,
        "order_id": row.order_id,
        "note": row.note,
        "at": _iso(row.at),
        "actor": row.actor_name,
        "detail": row.detail or {},
    }


def _masked_health(health: dict[str, Any]) -> dict[str, Any]:
    """What the panel shows before a reveal: which kinds of notes exist, not what they say."""
    return {
        key: (MASK if value else None)
        for key, value in health.items()
        if key in ("chronic_illnesses", "allergies", "medications", "disabilities", "notes")
    }


def alarm_detail(
    session: Session, *, alarm_id: int, actor: Actor, source_ip: str | None = None
) -> dict[str, Any]:
    """Everything an agent needs to handle one alarm (a profile view: audited)."""
    alarm = service.get_alarm(session, alarm_id=alarm_id)
    service.authorize(session, alarm=alarm, actor=actor, action="alarm.view")
    device = session.get(Device, alarm.device_id)
    out: dict[str, Any] = summary(
        alarm,
        elder_name=None,
        device_type=device.device_type if device else None,
    )
    out.update(
        {
            "event_code": alarm.event_code,
            "vendor": alarm.vendor,
            "occurred_at": _iso(alarm.occurred_at),
            "first_action_at": _iso(alarm.first_action_at),
            "on_site_at": _iso(alarm.on_site_at),
            "order_id": alarm.order_id,
            "outcome": alarm.outcome,
            "outcome_label": OUTCOME_LABELS[Outcome(alarm.outcome)] if alarm.outcome else None,
            "closed_at": _iso(alarm.closed_at),
            "device": {
                "id": device.id,
                "serial": device.serial,
                "type_label": DEVICE_TYPE_LABELS[DeviceType(device.device_type)],
                "status": device.status,
                "battery_pct": device.battery_pct,
                "last_heartbeat_at": _iso(device.last_heartbeat_at),
            }
            if device
            else None,
            "steps": [_step(s) for s in alarm.steps],
            "ladder": service.ladder_of(session, alarm=alarm),
            "outcomes": [
                {"code": o.value, "label": OUTCOME_LABELS[o]}
                for o in Outcome
                if o not in (Outcome.RESTORED, Outcome.ELDER_DECEASED)
            ],
            "elder": None,
            "position": None,
        }
    )
    if alarm.latitude is not None and alarm.longitude is not None:
        out["position"] = {
            "latitude": alarm.latitude,
            "longitude": alarm.longitude,
            "accuracy_m": alarm.position_accuracy_m,
            "source": alarm.position_source,
        }
    if alarm.elder_id is not None:
        profile = elders.elder_profile(
            session, elder_id=alarm.elder_id, actor=actor, source_ip=source_ip
        )
        health = profile.pop("health", {}) or {}
        profile["health_masked"] = _masked_health(health)
        profile["has_health_notes"] = any(health.values())
        out["elder"] = profile
        if out["position"] is None and profile.get("latitude") is not None:
            out["position"] = {
                "latitude": profile["latitude"],
                "longitude": profile["longitude"],
                "accuracy_m": None,
                "source": "address",
            }
    out["family_notified"] = notify.family_notified(session, alarm_id=alarm.id)
    out["dispatch_issue"] = dispatch_decision(session, alarm=alarm, actor=actor)
    return out


def dispatch_decision(session: Session, *, alarm: Alarm, actor: Actor) -> dict[str, Any] | None:
    """The decision the alarm's emergency order waits for, with the choices: providers within
    the radius not tried yet and those beyond it (by distance), 120, the key holders."""
    if not alarm.dispatch_issue or alarm.order_id is None:
        return None

    ranking = dispatch.rank_providers(session, actor=actor, order_id=alarm.order_id)
    near = [
        {
            "provider_id": c.facts.provider_id,
            "name": c.facts.name,
            "distance_km": None if c.facts.distance_km is None else round(c.facts.distance_km, 1),
            "beyond_radius": False,
        }
        for c in ranking.ranked[:3]
    ]
    far = sorted(
        (e for e in ranking.excluded if e.reason == "too_far"),
        key=lambda e: e.distance_km or 0.0,
    )[:3]
    keys = []
    if alarm.elder_id is not None:
        contacts = session.scalars(
            select(EmergencyContact)
            .where(EmergencyContact.elder_id == alarm.elder_id, EmergencyContact.holds_key)
            .order_by(EmergencyContact.priority, EmergencyContact.id)
        ).all()
        keys = [{"contact_id": c.id, "name": c.name, "relation": c.relation} for c in contacts]
    return {
        "issue": alarm.dispatch_issue,
        "label": service.DISPATCH_ISSUE_LABELS.get(alarm.dispatch_issue, alarm.dispatch_issue),
        "since": _iso(alarm.dispatch_issue_at),
        "detail": alarm.dispatch_issue_detail or {},
        "providers": near
        + [
            {
                "provider_id": e.provider_id,
                "name": e.name,
                "distance_km": None if e.distance_km is None else round(e.distance_km, 1),
                "beyond_radius": True,
            }
            for e in far
        ],
        "key_holders": keys,
    }


def dispatch_board(session: Session, *, region_code: str) -> list[dict[str, Any]]:
    """Open alarms whose emergency order waits for a person's decision, the oldest first."""
    alarms = session.scalars(
        select(Alarm)
        .where(
            Alarm.dispatch_issue.is_not(None),
            Alarm.status.in_([AlarmStatus.WAITING.value, AlarmStatus.HANDLING.value]),
            within(Alarm.region_code, region_code),
        )
        .order_by(Alarm.dispatch_issue_at)
        .limit(100)
    ).all()
    names = (
        dict(
            session.execute(
                select(Elder.id, Elder.name).where(
                    Elder.id.in_({a.elder_id for a in alarms if a.elder_id})
                )
            ).all()
        )
        if alarms
        else {}
    )
    return [
        {
            "alarm_id": a.id,
            "alarm_type": a.alarm_type,
            "elder_name": mask_name(names[a.elder_id]) if a.elder_id in names else None,
            "issue": a.dispatch_issue,
            "label": service.DISPATCH_ISSUE_LABELS.get(a.dispatch_issue or "", a.dispatch_issue),
            "since": _iso(a.dispatch_issue_at),
            "received_at": _iso(a.received_at),
            "handler": a.handler_name,
            "order_no": (a.dispatch_issue_detail or {}).get("order_no"),
        }
        for a in alarms
    ]


def _reveal_allowed(session: Session, *, alarm: Alarm, actor: Actor, action: str) -> None:
    if actor.role not in REVEAL_ROLES:
        service.refuse_on_alarm(
            session, actor=actor, action=action, alarm=alarm, reason="permission_denied"
        )
        raise PermissionDenied("当前角色无权查看 / your role may not reveal this")
    service.authorize(session, alarm=alarm, actor=actor, action=action)


def reveal(
    session: Session,
    *,
    alarm_id: int,
    field: str,
    actor: Actor,
    contact_id: int | None = None,
    source_ip: str | None = None,
) -> Any:
    """The elder's medical notes, or one emergency contact's number, in clear; audited."""
    alarm = service.get_alarm(session, alarm_id=alarm_id)
    action = f"alarm.reveal_{field}"
    _reveal_allowed(session, alarm=alarm, actor=actor, action=action)
    if alarm.elder_id is None:
        raise NotFound("该告警没有对应的老人 / the alarm has no elder", code="alarm_unbound")
    elder = elders.get_elder(session, elder_id=alarm.elder_id)
    detail: dict[str, Any] = {"alarm_id": alarm.id}
    value: Any
    if field == "health":
        value = elders.open_health(session, elder=elder)
    elif field == "contact_phone":
        contact = session.get(EmergencyContact, contact_id) if contact_id else None
        if contact is None or contact.elder_id != elder.id:
            raise ValidationFailed(
                "不是该老人的紧急联系人 / not this elder's contact", code="invalid_contact"
            )
        value, detail["contact_id"] = contact.phone, contact.id
    else:
        raise ValidationFailed(f"不能查看 {field} / cannot reveal {field}", code="invalid_field")
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="elder",
        target_id=elder.id,
        detail=detail,
        source_ip=source_ip,
    )
    return value
