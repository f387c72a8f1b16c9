"""Handling alarms: take one, work down the ladder step by step, close it with an outcome.

Every command checks the actor (agents and supervisors of the alarm's region; the system),
records a step with who, what and when, moves the alarm's timer to the rung that comes next,
and queues one past-tense event for after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from platform_core.actors import Actor, Role, system_actor
from platform_core.alarms import config, notify, queue, timers
from platform_core.alarms.events import (
    AlarmClosed,
    AlarmDispatchNeedsDecision,
    AlarmStepRecorded,
    AlarmTaken,
    AlarmTimerExpired,
)
from platform_core.alarms.ladder import (
    ContactFacts,
    ElderFacts,
    StepFacts,
    contact_order,
    elder_unreachable,
    emergency_steps,
    ladder_state,
)
from platform_core.alarms.models import Alarm, AlarmStep
from platform_core.alarms.vocabulary import (
    ALARM_TYPE_LABELS,
    EMERGENCY_NUMBERS,
    NEEDS_PERSON,
    OPEN_STATUSES,
    OUTCOME_LABELS,
    RUNG_OF_STEP,
    SETTLING,
    SYSTEM_OUTCOMES,
    AlarmStatus,
    AlarmType,
    Outcome,
    Rung,
    Step,
    StepResult,
)
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.devices.lifecycle import VOICE_TYPES, DeviceType
from platform_core.devices.models import Device
from platform_core.dispatch import service as dispatch
from platform_core.elders.models import Elder
from platform_core.elders.vocabulary import PhoneUse
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.notifications.models import OutboxMessage
from platform_core.orders import service as orders
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.security.masking import mask_phone

HANDLER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})


class AlarmNotFound(NotFound):
    code = "alarm_not_found"


class AlarmClosedError(IllegalTransition):
    code = "alarm_closed"


class AlarmTakenByOther(Conflict):
    code = "alarm_taken"


# ---------------------------------------------------------------- queries


def get_alarm(session: Session, *, alarm_id: int, lock: bool = False) -> Alarm:
    alarm = session.get(Alarm, alarm_id, with_for_update=lock or None)
    if alarm is None:
        raise AlarmNotFound(f"告警不存在: {alarm_id} / no such alarm")
    return alarm


def list_open_alarms(
    session: Session, *, region_code: str, include_technical: bool = True, limit: int = 200
) -> list[Alarm]:
    """Open alarms in ``region_code`` and below: most urgent first, then the longest waiting."""
    q = select(Alarm).where(
        Alarm.status.in_([s.value for s in OPEN_STATUSES]), within(Alarm.region_code, region_code)
    )
    if not include_technical:
        q = q.where(Alarm.alarm_type.in_([t.value for t in NEEDS_PERSON]))
    q = q.order_by(Alarm.status.desc(), Alarm.priority, Alarm.received_at).limit(limit)
    return list(session.scalars(q))


def list_alarms_for_elder(session: Session, *, elder_id: int, limit: int = 20) -> list[Alarm]:
    return list(
        session.scalars(
            select(Alarm)
            .where(Alarm.elder_id == elder_id)
            .order_by(Alarm.received_at.desc())
            .limit(limit)
        )
    )


def elder_facts(session: Session, *, alarm: Alarm) -> ElderFacts:
    device = session.get(Device, alarm.device_id)
    can_speak = bool(
        device is not None and device.sim_number and DeviceType(device.device_type) in VOICE_TYPES
    )
    if alarm.elder_id is None:
        return ElderFacts(device_can_speak=can_speak)
    elder = session.scalar(
        select(Elder)
        .where(Elder.id == alarm.elder_id)
        .options(selectinload(Elder.phones), selectinload(Elder.contacts))
    )
    if elder is None:
        return ElderFacts(device_can_speak=can_speak)
    return ElderFacts(
        device_can_speak=can_speak,
        has_mobile=any(p.kind == PhoneUse.MOBILE for p in elder.phones),
        has_landline=any(p.kind == PhoneUse.HOME for p in elder.phones),
        contacts=tuple(
            ContactFacts(c.id, c.name, c.relation, c.priority, c.holds_key) for c in elder.contacts
        ),
    )


def step_facts(alarm: Alarm) -> list[StepFacts]:
    return [StepFacts(s.step, s.result, s.contact_id) for s in alarm.steps]


def ladder_of(session: Session, *, alarm: Alarm) -> dict[str, Any]:
    """The ladder as the panel shows it, with the contacts in the order to call them."""
    facts = elder_facts(session, alarm=alarm)
    steps = step_facts(alarm)
    rungs, current = ladder_state(alarm_type=alarm.alarm_type, facts=facts, steps=steps)
    door = elder_unreachable(steps)
    tried = {s.contact_id: s.result for s in steps if s.step == Step.CALL_CONTACT}
    return {
        "rungs": [r.as_dict() for r in rungs],
        "current": current.value if current else None,
        "door_must_open": door,
        "contacts": [
            {
                "id": c.id,
                "name": c.name,
                "relation": c.relation,
                "priority": c.priority,
                "holds_key": c.holds_key,
                "last_result": tried.get(c.id),
            }
            for c in contact_order(facts.contacts, door_must_open=door)
        ],
        "emergency": [s.value for s in emergency_steps(alarm.alarm_type)],
        "device_can_speak": facts.device_can_speak,
    }


# ---------------------------------------------------------------- authorisation


def refuse_on_alarm(session: Session, *, alarm: Alarm, **refusal: Unpack[audit.Refusal]) -> None:
    """Audit a refused action on an alarm; the record outlives the unit of work's rollback."""
    audit.refuse(session, target_type="alarm", target_id=alarm.id, **refusal)


def authorize(session: Session, *, alarm: Alarm, actor: Actor, action: str) -> None:
    """Agents and supervisors of the alarm's region, and the system; refusals are audited."""
    error: PermissionDenied | None = None
    if actor.kind == "user" or actor.role is not None:
        if actor.role not in HANDLER_ROLES:
            error = PermissionDenied("当前角色无权处置告警 / your role may not handle alarms")
    elif actor.kind != "system":
        error = PermissionDenied("无权处置告警 / not permitted")
    if error is None and not codes.is_within(alarm.region_code, actor.region_code):
        error = OutOfRegion("无权访问其他地区的数据 / outside your region")
    if error is not None:
        refuse_on_alarm(session, actor=actor, action=action, alarm=alarm, reason=error.code)
        raise error


def _require_open(alarm: Alarm) -> None:
    if alarm.status not in OPEN_STATUSES:
        raise AlarmClosedError(
            f"告警已结案或已抑制 ({alarm.status}) / the alarm is no longer open",
            status=alarm.status,
        )


def _is_handler(alarm: Alarm, actor: Actor) -> bool:
    return actor.user_id is not None and alarm.handler_user_id == actor.user_id


def _require_handler(session: Session, alarm: Alarm, actor: Actor, action: str) -> None:
    """The agent who took the alarm acts on it; a supervisor may step in; nobody else."""
    if alarm.status == AlarmStatus.WAITING or actor.kind == "system":
        return
    if _is_handler(alarm, actor) or actor.role == Role.SUPERVISOR:
        return
    refuse_on_alarm(
        session,
        actor=actor,
        action=action,
        alarm=alarm,
        reason="alarm_taken",
        detail={"handler": alarm.handler_name},
    )
    raise AlarmTakenByOther(
        f"该告警由 {alarm.handler_name} 处置中 / {alarm.handler_name} is handling this alarm",
        handler=alarm.handler_name,
    )


# ---------------------------------------------------------------- timers


def _arm(
    session: Session, alarm: Alarm, rung: str | None, seconds: int | None, at: datetime
) -> None:
    """Point the alarm's timer at ``rung`` (or stop it) and queue the job that watches it."""
    alarm.timer_seq += 1
    alarm.timer_level = None
    if rung is None or seconds is None or AlarmType(alarm.alarm_type) not in NEEDS_PERSON:
        alarm.timer_rung, alarm.timer_due_at = None, None
        return
    alarm.timer_rung, alarm.timer_due_at = rung, at + timedelta(seconds=seconds)
    timers.schedule(session, alarm_id=alarm.id, seq=alarm.timer_seq, due_at=alarm.timer_due_at)


def _arm_next(session: Session, alarm: Alarm, at: datetime) -> None:
    _rungs, current = ladder_state(
        alarm_type=alarm.alarm_type,
        facts=elder_facts(session, alarm=alarm),
        steps=step_facts(alarm),
    )
    timeouts = config.step_timeouts(settings_of(session))
    _arm(
        session,
        alarm,
        current.value if current else None,
        timeouts[current] if current else None,
        at,
    )


def timer_expired(session: Session, *, alarm_id: int, seq: int) -> str:
    """A timer job fired: prompt the agent, then a supervisor, and keep prompting the
    supervisor until somebody acts. Returns what it did ("stale" when overtaken)."""
    alarm = session.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None or alarm.status not in OPEN_STATUSES or alarm.timer_seq != seq:
        return "stale"
    now = utcnow()
    settings = settings_of(session)
    if alarm.timer_rung == "take" or alarm.status == AlarmStatus.WAITING:
        level, again = "supervisor", settings.alarm_take_timeout_s
    else:
        level = "agent" if alarm.timer_level is None else "supervisor"
        again = config.step_timeouts(settings)[Rung(alarm.timer_rung or Rung.ON_SITE.value)]
    publish_on_commit(
        session,
        AlarmTimerExpired(
            alarm_id=alarm.id,
            region_code=alarm.region_code,
            rung=alarm.timer_rung or "take",
            level=level,
            handler_user_id=alarm.handler_user_id,
            waited_s=round((now - alarm.received_at).total_seconds(), 1),
        ),
    )
    alarm.timer_seq += 1
    alarm.timer_level = level
    alarm.timer_due_at = now + timedelta(seconds=again)
    timers.schedule(session, alarm_id=alarm.id, seq=alarm.timer_seq, due_at=alarm.timer_due_at)
    session.flush()
    return level


# ---------------------------------------------------------------- commands


def _add_step(
    session: Session,
    alarm: Alarm,
    *,
    step: Step,
    result: StepResult,
    actor: Actor,
    at: datetime,
    contact_id: int | None = None,
    order_id: int | None = None,
    note: str = "",
    detail: dict[str, Any] | None = None,
) -> AlarmStep:
    row = AlarmStep(
        seq=len(alarm.steps) + 1,
        step=step.value,
        result=result.value,
        contact_id=contact_id,
        order_id=order_id,
        note=note,
        at=at,
        actor_kind=actor.kind,
        actor_name=actor.label[:64],
        actor_user_id=actor.user_id,
        detail=detail or {},
    )
    alarm.steps.append(row)
    session.flush()
    publish_on_commit(
        session,
        AlarmStepRecorded(
            alarm_id=alarm.id,
            region_code=alarm.region_code,
            step=row.step,
            result=row.result,
            seq=row.seq,
            handler_user_id=alarm.handler_user_id,
        ),
    )
    return row


def _take(session: Session, alarm: Alarm, actor: Actor, at: datetime, *, over: bool) -> None:
    first = alarm.taken_at is None
    if first:
        alarm.taken_at, alarm.taken_by, alarm.taken_by_user_id = at, actor.label[:64], actor.user_id
    previous = alarm.handler_name
    alarm.status = AlarmStatus.HANDLING.value
    alarm.handler_user_id, alarm.handler_name = actor.user_id, actor.label[:64]
    # its reservation ends here: taken by the agent who held it, withdrawn from anyone else
    queue.settle_offers(session, alarm=alarm, taker_user_id=actor.user_id)
    _add_step(
        session,
        alarm,
        step=Step.TRANSFER if over else Step.TAKE,
        result=StepResult.DONE,
        actor=actor,
        at=at,
        detail={"from": previous} if over else {},
    )
    publish_on_commit(
        session,
        AlarmTaken(
            alarm_id=alarm.id,
            region_code=alarm.region_code,
            user_id=actor.user_id,
            handler=alarm.handler_name,
            wait_s=round((at - alarm.received_at).total_seconds(), 3),
        ),
    )


def take_alarm(session: Session, *, alarm_id: int, actor: Actor, take_over: bool = False) -> Alarm:
    """The first agent to take a waiting alarm handles it (the clock of "answered" stops here).
    Taking it again is a no-op; a supervisor may take over an alarm another agent handles."""
    alarm = get_alarm(session, alarm_id=alarm_id, lock=True)
    authorize(session, alarm=alarm, actor=actor, action="alarm.take")
    _require_open(alarm)
    now = utcnow()
    if alarm.status == AlarmStatus.HANDLING:
        if _is_handler(alarm, actor):
            return alarm
        if not (take_over and actor.role == Role.SUPERVISOR):
            _require_handler(session, alarm, actor, "alarm.take")
            if not take_over:
                raise AlarmTakenByOther(
                    f"该告警由 {alarm.handler_name} 处置中 / {alarm.handler_name} is handling it",
                    handler=alarm.handler_name,
                )
        _take(session, alarm, actor, now, over=True)
    else:
        _take(session, alarm, actor, now, over=False)
    _arm_next(session, alarm, now)
    session.flush()
    return alarm


def record_step(
    session: Session,
    *,
    alarm_id: int,
    step: Step | str,
    actor: Actor,
    result: StepResult | str = StepResult.DONE,
    contact_id: int | None = None,
    order_id: int | None = None,
    note: str = "",
    detail: dict[str, Any] | None = None,
) -> AlarmStep:
    """Record one step of the ladder (a waiting alarm is taken by whoever acts on it first)."""
    step, result = Step(step), StepResult(result)
    if step in (Step.TAKE, Step.TRANSFER):
        raise ValidationFailed("接警请使用接警操作 / use take_alarm", code="invalid_step")
    alarm = get_alarm(session, alarm_id=alarm_id, lock=True)
    authorize(session, alarm=alarm, actor=actor, action=f"alarm.{step.value}")
    _require_open(alarm)
    _require_handler(session, alarm, actor, f"alarm.{step.value}")
    now = utcnow()
    if step is Step.CALL_CONTACT:
        facts = elder_facts(session, alarm=alarm)
        if contact_id is None or contact_id not in {c.id for c in facts.contacts}:
            raise ValidationFailed(
                "请选择该老人的一位紧急联系人 / choose one of the elder's emergency contacts",
                code="invalid_contact",
            )
    elif contact_id is not None:
        raise ValidationFailed(
            "此步骤不涉及联系人 / this step takes no contact", code="invalid_contact"
        )
    if step is Step.ON_SITE and result not in (StepResult.DONE, StepResult.REACHED):
        raise ValidationFailed(
            "到场只能记录为已完成 / on site is recorded as done", code="invalid_result"
        )
    if step is Step.ON_SITE and actor.kind == "user" and not note.strip():
        # arrival is the provider's own check-in; a person records it only saying who confirmed it
        raise ValidationFailed(
            "记录人员到场需说明由谁确认(服务商签到会自动记录)", code="note_required"
        )
    if alarm.status == AlarmStatus.WAITING:
        _take(session, alarm, actor, now, over=False)
    row = _add_step(
        session,
        alarm,
        step=step,
        result=result,
        actor=actor,
        at=now,
        contact_id=contact_id,
        order_id=order_id,
        note=note.strip(),
        detail=detail,
    )
    if alarm.first_action_at is None and (step in RUNG_OF_STEP or step is Step.NOTIFY_FAMILY):
        alarm.first_action_at = now
    if step is Step.ON_SITE and alarm.on_site_at is None:
        alarm.on_site_at = now
    _arm_next(session, alarm, now)
    session.flush()
    return row


@dataclass(frozen=True)
class DialTarget:
    """A number to dial for a step: in clear only for the telephony command, masked for people."""

    number: str
    label: str


def dial_attempt_key(alarm: Alarm, *, step: Step | str, contact_id: int | None = None) -> str:
    """The idempotency key of the next dial of ``step`` for this alarm: the step's attempts so
    far are counted, so a second press before a result is recorded is the same attempt (never
    dialled twice) and a try after it is a new one."""
    step = Step(step)
    attempt = sum(1 for st in alarm.steps if st.step == step.value) + 1
    return f"alarm:{alarm.id}:{step.value}:{contact_id or 0}:{attempt}"


def dial_target(
    session: Session,
    *,
    alarm_id: int,
    step: Step | str,
    actor: Actor,
    contact_id: int | None = None,
) -> DialTarget:
    """The number a ladder step dials: the device's SIM (or the elder's mobile), the landline,
    a contact, or 120 / 110 / 119. The number goes to the telephony command, never to a screen."""
    step = Step(step)
    alarm = get_alarm(session, alarm_id=alarm_id)
    authorize(session, alarm=alarm, actor=actor, action=f"alarm.dial.{step.value}")
    _require_open(alarm)
    if step in EMERGENCY_NUMBERS:
        service_number = EMERGENCY_NUMBERS[step]
        return DialTarget(service_number, service_number)
    device = session.get(Device, alarm.device_id)
    elder = session.get(Elder, alarm.elder_id) if alarm.elder_id else None
    number: str | None = None
    if step is Step.TALK_TO_ELDER:
        if (
            device is not None
            and device.sim_number
            and DeviceType(device.device_type) in VOICE_TYPES
        ):
            number = device.sim_number
        elif elder is not None:
            number = next((p.number for p in elder.phones if p.kind == PhoneUse.MOBILE), None)
    elif step is Step.CALL_LANDLINE and elder is not None:
        number = next((p.number for p in elder.phones if p.kind == PhoneUse.HOME), None)
    elif step is Step.CALL_CONTACT and elder is not None:
        contact = next((c for c in elder.contacts if c.id == contact_id), None)
        number = contact.phone if contact else None
    if not number:
        raise NotFound("没有可拨打的号码 / no number to dial for this step", code="no_number")
    return DialTarget(number, mask_phone(number))


def dispatch_provider(
    session: Session, *, alarm_id: int, actor: Actor, notes: str = ""
) -> AlarmStep:
    """Open an emergency order (source sos_alarm) and send it at once to the best provider
    within the emergency radius (dispatch's own ranking). With nobody within reach the alarm
    shows a decision for a person at once: widen the radius, call 120, send the key holder."""
    alarm = get_alarm(session, alarm_id=alarm_id, lock=True)
    authorize(session, alarm=alarm, actor=actor, action="alarm.dispatch_provider")
    _require_open(alarm)
    _require_handler(session, alarm, actor, "alarm.dispatch_provider")
    if alarm.elder_id is None:
        raise IllegalTransition(
            "设备未绑定老人, 无法派单 / the device serves nobody: no order can be opened",
            code="alarm_unbound",
        )
    if alarm.order_id is not None:
        raise Conflict(
            "该告警已派单 / an order is already open for this alarm", code="order_exists"
        )
    settings = settings_of(session)
    service_type = config.order_service_type(settings, alarm.alarm_type)
    label = ALARM_TYPE_LABELS[AlarmType(alarm.alarm_type)]
    order = orders.open_order(
        session,
        actor=actor,
        elder_id=alarm.elder_id,
        service_type_code=service_type,
        source="sos_alarm",
        urgency="emergency",
        notes=(f"{label}告警 #{alarm.id}. " + notes.strip()).strip(),
        source_ref=f"alarm:{alarm.id}",
    )
    if alarm.latitude is not None and alarm.longitude is not None:
        # the emergency is where the device is (a watch outdoors), not the registered address
        order.latitude, order.longitude = alarm.latitude, alarm.longitude
    orders.submit_for_dispatch(session, actor=actor, order_id=order.id, reason=f"{label}告警")
    outcome = dispatch.dispatch_order(session, order_id=order.id)
    alarm.order_id = order.id
    detail: dict[str, Any] = {"order_no": order.order_no}
    if outcome.result == "dispatched" and outcome.explanation:
        x = outcome.explanation
        detail.update(
            provider_id=x.get("provider_id"),
            provider=x.get("provider_name"),
            distance_km=x.get("distance_km"),
        )
    else:
        raise_dispatch_issue(
            session,
            alarm,
            issue="no_provider",
            detail={
                "order_no": order.order_no,
                "radius_km": settings.dispatch_emergency_radius_km,
                "excluded": (outcome.explanation or {}).get("excluded", []),
            },
        )
        detail["issue"] = "no_provider"
    return record_step(
        session,
        alarm_id=alarm.id,
        step=Step.DISPATCH_PROVIDER,
        result=StepResult.DONE if outcome.result == "dispatched" else StepResult.FAILED,
        actor=actor,
        order_id=order.id,
        note=notes,
        detail=detail,
    )


DISPATCH_ISSUE_LABELS = {
    "no_provider": "紧急派单半径内无可派服务商",
    "not_accepted": "服务商未接单",
}


def raise_dispatch_issue(
    session: Session, alarm: Alarm, *, issue: str, detail: dict[str, Any]
) -> None:
    """The emergency order needs a person's decision now (shown on the alarm and on the
    wallboard's dispatch board): widen the radius, call 120, send the key holder."""
    alarm.dispatch_issue, alarm.dispatch_issue_at = issue, utcnow()
    alarm.dispatch_issue_detail = detail
    publish_on_commit(
        session,
        AlarmDispatchNeedsDecision(
            alarm_id=alarm.id,
            region_code=alarm.region_code,
            order_id=alarm.order_id,
            issue=issue,
            handler_user_id=alarm.handler_user_id,
        ),
    )


def clear_dispatch_issue(alarm: Alarm) -> None:
    alarm.dispatch_issue = alarm.dispatch_issue_at = None
    alarm.dispatch_issue_detail = None


def dispatch_wider(session: Session, *, alarm_id: int, provider_id: int, actor: Actor) -> AlarmStep:
    """Widen the radius: send the alarm's emergency order to a provider beyond it, chosen by
    the person deciding (the distance goes on the step and the order's override)."""
    alarm = get_alarm(session, alarm_id=alarm_id, lock=True)
    authorize(session, alarm=alarm, actor=actor, action="alarm.dispatch_wider")
    _require_open(alarm)
    _require_handler(session, alarm, actor, "alarm.dispatch_wider")
    if alarm.order_id is None:
        raise IllegalTransition("该告警尚未派单", code="no_order")
    ranking = dispatch.rank_providers(session, actor=actor, order_id=alarm.order_id)
    far = next(
        (e for e in ranking.excluded if e.provider_id == provider_id and e.reason == "too_far"),
        None,
    )
    km = round(far.distance_km, 1) if far is not None and far.distance_km is not None else None
    reason = f"紧急派单扩大范围: {far.name if far else provider_id}" + (
        f" ({km} 公里)" if km else ""
    )
    order = dispatch.override_dispatch(
        session, actor=actor, order_id=alarm.order_id, provider_id=provider_id, reason=reason
    )
    clear_dispatch_issue(alarm)  # decided; a refusal of this provider asks again
    return record_step(
        session,
        alarm_id=alarm.id,
        step=Step.DISPATCH_PROVIDER,
        result=StepResult.DONE,
        actor=actor,
        order_id=order.id,
        note=reason,
        detail={"order_no": order.order_no, "provider_id": provider_id, "distance_km": km},
    )


def follow_order_step(
    session: Session,
    *,
    alarm_id: int,
    command: str,
    by: str,
    at: datetime,
    order_no: str,
    order_seq: int,
    reason: str = "",
) -> str:
    """The alarm's emergency order moved: the provider's own steps go on the alarm. Check-in is
    someone on site; acceptance ends the decision; a refusal or a lapsed acceptance asks a
    person at once. Returns what it did."""
    alarm = session.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None or alarm.status not in OPEN_STATUSES:
        return "closed"
    if any(
        (st.detail or {}).get("order_no") == order_no
        and (st.detail or {}).get("order_seq") == order_seq
        for st in alarm.steps
    ):
        return "repeated"  # the job ran before
    provider = system_actor(f"服务商 {by}"[:60], region_code=alarm.region_code)
    if command == "check_in":
        clear_dispatch_issue(alarm)
        if alarm.on_site_at is None:
            alarm.on_site_at = at
        record_step(
            session,
            alarm_id=alarm.id,
            step=Step.ON_SITE,
            result=StepResult.DONE,
            actor=provider,
            note=f"工单 {order_no} 服务人员签到",
            detail={"order_no": order_no, "order_seq": order_seq, "source": "check_in"},
        )
        return "on_site"
    if command == "accept":
        clear_dispatch_issue(alarm)
        record_step(
            session,
            alarm_id=alarm.id,
            step=Step.NOTE,
            result=StepResult.DONE,
            actor=provider,
            note=f"工单 {order_no} 服务商已接单",
            detail={"order_no": order_no, "order_seq": order_seq},
        )
        return "accepted"
    if command == "reject":
        raise_dispatch_issue(
            session,
            alarm,
            issue="not_accepted",
            detail={"order_no": order_no, "provider": by, "reason": reason},
        )
        record_step(
            session,
            alarm_id=alarm.id,
            step=Step.NOTE,
            result=StepResult.FAILED,
            actor=provider,
            note=f"工单 {order_no} 未被接单: {reason}"[:500],
            detail={"order_no": order_no, "order_seq": order_seq},
        )
        return "not_accepted"
    return "ignored"


def notify_family(
    session: Session, *, alarm_id: int, actor: Actor, note: str = ""
) -> list[OutboxMessage]:
    """An SMS to every emergency contact with a mobile, recorded as a step."""
    alarm = get_alarm(session, alarm_id=alarm_id, lock=True)
    authorize(session, alarm=alarm, actor=actor, action="alarm.notify_family")
    _require_open(alarm)
    _require_handler(session, alarm, actor, "alarm.notify_family")
    elder = session.get(Elder, alarm.elder_id) if alarm.elder_id else None
    if elder is None or not elder.contacts:
        raise NotFound(
            "该老人没有紧急联系人 / the elder has no emergency contact", code="no_contact"
        )
    label = ALARM_TYPE_LABELS[AlarmType(alarm.alarm_type)]
    text = f"{elder.name}的设备发出{label}告警, 热线正在处置。" + (
        note.strip() if note.strip() else "如方便请尽快联系老人或回电12349。"
    )
    presses = sum(1 for s in alarm.steps if s.step == Step.NOTIFY_FAMILY.value)
    notices = notify.send_family_notice(
        session,
        alarm=alarm,
        elder=elder,
        text=text,
        purpose=f"family{presses + 1}",
        actor=actor,
        every=True,
    )
    if not notices:
        raise NotFound(
            "紧急联系人都没有手机号码 / no emergency contact has a mobile", code="no_mobile"
        )
    record_step(
        session,
        alarm_id=alarm.id,
        step=Step.NOTIFY_FAMILY,
        result=StepResult.DONE,
        actor=actor,
        note=note,
        detail={"sent_to": len(notices)},
    )
    return notices


# An outcome that claims something happened needs the step that shows it.
_OUTCOME_EVIDENCE: dict[Outcome, tuple[frozenset[Step], str]] = {
    Outcome.ELDER_SAFE: (
        frozenset({Step.TALK_TO_ELDER, Step.CALL_LANDLINE, Step.CALL_CONTACT, Step.ON_SITE}),
        "需先记录已联系到老人或家属 / record reaching the elder or family first",
    ),
    Outcome.FAMILY_HANDLED: (
        frozenset({Step.CALL_CONTACT, Step.ON_SITE}),
        "需先记录已联系到家属 / record reaching a family member first",
    ),
    Outcome.PROVIDER_HANDLED: (
        # an order only dispatched proves nothing: the provider must have been there
        frozenset({Step.ON_SITE}),
        "服务商尚未到场: 需服务商签到或记录由谁确认到场",
    ),
    Outcome.EMERGENCY_SERVICES: (
        frozenset({Step.CALL_120, Step.CALL_110, Step.CALL_119}),
        "需先记录呼叫 120/110/119 / record the call to 120/110/119 first",
    ),
    Outcome.HOSPITALISED: (
        frozenset({Step.CALL_120, Step.ON_SITE, Step.CALL_CONTACT}),
        "需先记录急救或到场 / record the ambulance or arrival first",
    ),
}


def close_alarm(
    session: Session, *, alarm_id: int, outcome: Outcome | str, actor: Actor, note: str = ""
) -> Alarm:
    """Close an alarm with its outcome (never without one); the family hears how it ended."""
    outcome = Outcome(outcome)
    alarm = get_alarm(session, alarm_id=alarm_id, lock=True)
    authorize(session, alarm=alarm, actor=actor, action="alarm.close")
    _require_open(alarm)
    _require_handler(session, alarm, actor, "alarm.close")
    if outcome in SYSTEM_OUTCOMES and actor.kind != "system":
        raise ValidationFailed(
            f"「{OUTCOME_LABELS[outcome]}」由系统记录 / this outcome is recorded by the system",
            code="invalid_outcome",
        )
    evidence = _OUTCOME_EVIDENCE.get(outcome)
    if evidence is not None and actor.kind != "system":
        steps, message = evidence
        if not any(Step(s.step) in steps and s.result in SETTLING for s in alarm.steps):
            raise ValidationFailed(message, code="outcome_without_evidence", outcome=outcome.value)
    if outcome is Outcome.FALSE_ALARM and not note.strip() and actor.kind != "system":
        raise ValidationFailed(
            "误报需说明原因 / say why it was a false alarm", code="note_required"
        )
    now = utcnow()
    if alarm.taken_at is None and actor.kind == "user":
        _take(session, alarm, actor, now, over=False)
    alarm.status = AlarmStatus.CLOSED.value
    alarm.open_key = None
    queue.settle_offers(session, alarm=alarm, taker_user_id=None)
    alarm.closed_at, alarm.closed_by = now, actor.label[:64]
    alarm.outcome, alarm.outcome_note = outcome.value, note.strip()
    _arm(session, alarm, None, None, now)
    session.flush()
    elder = session.get(Elder, alarm.elder_id) if alarm.elder_id else None
    if elder is not None and notify.family_notified(session, alarm_id=alarm.id):
        notify.send_family_notice(
            session,
            alarm=alarm,
            elder=elder,
            text=f"{elder.name}的{ALARM_TYPE_LABELS[AlarmType(alarm.alarm_type)]}告警已处置完毕: "
            f"{OUTCOME_LABELS[outcome]}。",
            purpose="closed",
            actor=actor,
            every=False,
        )
    audit.record(
        session,
        actor=actor,
        action="alarm.close",
        target_type="alarm",
        target_id=alarm.id,
        detail={"outcome": outcome.value},
    )
    publish_on_commit(
        session,
        AlarmClosed(
            alarm_id=alarm.id,
            region_code=alarm.region_code,
            outcome=outcome.value,
            closed_by=alarm.closed_by or "",
        ),
    )
    return alarm


def close_alarms_of_elder(
    session: Session, *, elder_id: int, actor: Actor, outcome: Outcome = Outcome.ELDER_DECEASED
) -> list[Alarm]:
    """Close every open alarm of an elder (the elder died): nothing stays on anyone's panel."""
    alarms = list(
        session.scalars(
            select(Alarm).where(
                Alarm.elder_id == elder_id,
                Alarm.status.in_([s.value for s in OPEN_STATUSES]),
            )
        )
    )
    for alarm in alarms:
        close_alarm(session, alarm_id=alarm.id, outcome=outcome, actor=actor)
    return alarms
