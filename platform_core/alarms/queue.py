"""The alarm queue: waiting alarms reserved for one ready agent at a time (a task router).

Alarms a person must answer wait in one queue, most urgent first, then the oldest (the time the
alarm was raised). The router reserves each for ONE agent of its region whose desk is ready,
the longest-ready first, for ``alarm_offer_timeout_s``; a reservation not taken in time lapses,
supervisors are told, the agent's desk stays paused (未接告警: nobody is at it) and the alarm goes
to the next ready agent. An agent who becomes ready is offered the oldest waiting alarm at once.
Nothing leaves the queue except by being taken (or closed with an outcome).

Reservations live in the database (``alarm_offers``): at most one open per alarm and one per
agent, by unique indexes, and every routing pass runs under one transaction-scoped advisory lock
on PostgreSQL, so any number of console processes route together without offering an alarm
twice. A desk holding an offer is paused for voice calls through telephony (callcenter's
QueuePause, so Asterisk confirms it); each pause and release is claimed in the pass (a column on
the reservation) and sent once, after the commit, by the process that claimed it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text
from sqlalchemy.orm import Session

from platform_core.accounts.models import User
from platform_core.actors import Actor, Role
from platform_core.alarms.events import AlarmOffered, AlarmOfferEnded
from platform_core.alarms.models import Alarm, AlarmOffer, AlarmStep
from platform_core.alarms.vocabulary import (
    ALARM_TYPE_LABELS,
    NEEDS_PERSON,
    AlarmStatus,
    AlarmType,
    Step,
)
from platform_core.audit import service as audit
from platform_core.calls.models import Agent
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    PermissionDenied,
)
from platform_core.events import publish_on_commit
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import settings_of
from platform_core.security.masking import mask_name
from platform_core.telephony.desks import DeskCommand

OFFERED, TAKEN, LAPSED, WITHDRAWN = "offered", "taken", "lapsed", "withdrawn"
# The desk's pause reasons: holding an alarm, and an offer it let lapse (nobody at the desk).
PAUSE_HOLDING = "alarm"
PAUSE_MISSED = "alarm_missed"
# Roles whose ready desks are offered alarms (a supervisor at a desk answers like an agent).
DESK_ROLES = (Role.AGENT.value, Role.SUPERVISOR.value)
_LOCK_KEY = zlib.crc32(b"hotline.alarm_queue")
_NEEDS_PERSON = [t.value for t in NEEDS_PERSON]


@dataclass
class RoutePass:
    offered: list[int] = field(default_factory=list)  # offer ids
    lapsed: list[int] = field(default_factory=list)
    commands: list[DeskCommand] = field(default_factory=list)


class AlarmNotWaiting(IllegalTransition):
    code = "alarm_not_waiting"


class DeskBusy(Conflict):
    code = "desk_busy"


def _serialize(session: Session) -> None:
    """One routing pass at a time across processes (released at commit); SQLite has one writer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _open_offer_of_alarm() -> Any:
    return exists().where(AlarmOffer.alarm_id == Alarm.id, AlarmOffer.status == OFFERED)


def _waiting() -> Any:
    return and_(Alarm.status == AlarmStatus.WAITING.value, Alarm.alarm_type.in_(_NEEDS_PERSON))


def has_work(session: Session, *, now: datetime | None = None) -> bool:
    """Whether a routing pass has anything to do (one cheap read, no lock)."""
    now = now or utcnow()
    offers = exists().where(
        or_(
            and_(
                AlarmOffer.status == OFFERED,
                or_(AlarmOffer.expires_at <= now, AlarmOffer.desk_paused_at.is_(None)),
            ),
            and_(AlarmOffer.status == WITHDRAWN, AlarmOffer.desk_released_at.is_(None)),
        )
    )
    unreserved = exists().where(_waiting(), ~_open_offer_of_alarm())
    return bool(session.scalar(select(or_(offers, unreserved))))


def _end(session: Session, offer: AlarmOffer, alarm: Alarm, outcome: str, now: datetime) -> None:
    offer.status, offer.ended_at = outcome, now
    if outcome == WITHDRAWN and offer.desk_paused_at is None:
        offer.desk_released_at = now  # never paused: nothing to release
    publish_on_commit(
        session,
        AlarmOfferEnded(
            alarm_id=alarm.id,
            offer_id=offer.id,
            region_code=alarm.region_code,
            user_id=offer.user_id,
            agent_name=offer.agent_name,
            outcome=outcome,
            waited_s=round((now - alarm.received_at).total_seconds(), 1),
        ),
    )


def settle_offers(session: Session, *, alarm: Alarm, taker_user_id: int | None) -> None:
    """The alarm was taken (or closed): its open reservation is ``taken`` when the taker held
    it, ``withdrawn`` otherwise. The caller holds the alarm's row lock."""
    offer = session.scalar(
        select(AlarmOffer)
        .where(AlarmOffer.alarm_id == alarm.id, AlarmOffer.status == OFFERED)
        .with_for_update()
    )
    if offer is None:
        return
    outcome = TAKEN if taker_user_id is not None and offer.user_id == taker_user_id else WITHDRAWN
    _end(session, offer, alarm, outcome, utcnow())


@dataclass(frozen=True)
class _Desk:
    user_id: int
    interface: str
    name: str
    region_code: str
    ready_since: datetime


def _ready_desks(session: Session) -> list[_Desk]:
    """Desks ready for an alarm, the longest-ready first: ready in the voice queues, holding no
    reservation, and ready again since the last alarm they took or let lapse (the pause of an
    offer may not have reached Asterisk yet when the router looks again)."""
    rows = session.execute(
        select(User.id, User.sip_interface, User.display_name, User.region_code, Agent.since)
        .join(Agent, Agent.interface == User.sip_interface)
        .where(
            Agent.state == "ready",
            User.active.is_(True),
            User.role.in_(DESK_ROLES),
            ~exists().where(AlarmOffer.user_id == User.id, AlarmOffer.status == OFFERED),
        )
        .order_by(Agent.since, User.id)
    ).all()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    last_offer = dict(
        session.execute(
            select(AlarmOffer.user_id, func.max(AlarmOffer.ended_at))
            .where(AlarmOffer.user_id.in_(ids), AlarmOffer.status.in_([TAKEN, LAPSED]))
            .group_by(AlarmOffer.user_id)
        ).all()
    )
    last_take = dict(
        session.execute(
            select(AlarmStep.actor_user_id, func.max(AlarmStep.at))
            .join(Alarm, Alarm.id == AlarmStep.alarm_id)
            .where(
                Alarm.status == AlarmStatus.HANDLING.value,
                AlarmStep.actor_user_id.in_(ids),
                AlarmStep.step.in_([Step.TAKE.value, Step.TRANSFER.value]),
            )
            .group_by(AlarmStep.actor_user_id)
        ).all()
    )
    desks = []
    for user_id, interface, name, region, since in rows:
        busy_until = max(
            (t for t in (last_offer.get(user_id), last_take.get(user_id)) if t is not None),
            default=None,
        )
        if busy_until is not None and since <= busy_until:
            continue
        desks.append(_Desk(user_id, str(interface), name, region, since))
    return desks


def _offer(
    session: Session,
    alarm: Alarm,
    *,
    user_id: int,
    interface: str,
    name: str,
    now: datetime,
    assigned_by: str | None = None,
) -> AlarmOffer:
    timeout = settings_of(session).alarm_offer_timeout_s
    offer = AlarmOffer(
        alarm_id=alarm.id,
        user_id=user_id,
        interface=interface,
        agent_name=name[:64],
        offered_at=now,
        expires_at=now + timedelta(seconds=timeout),
        status=OFFERED,
        assigned_by=assigned_by,
    )
    session.add(offer)
    session.flush()
    publish_on_commit(
        session,
        AlarmOffered(
            alarm_id=alarm.id,
            offer_id=offer.id,
            region_code=alarm.region_code,
            user_id=user_id,
            agent_name=offer.agent_name,
            alarm_type=alarm.alarm_type,
            priority=alarm.priority,
            received_at=alarm.received_at.isoformat(),
            expires_at=offer.expires_at.isoformat(),
            unbound=alarm.unbound,
            assigned_by=assigned_by,
        ),
    )
    return offer


def _expire(session: Session, now: datetime, out: RoutePass) -> None:
    due = session.scalars(
        select(AlarmOffer)
        .where(AlarmOffer.status == OFFERED, AlarmOffer.expires_at <= now)
        .order_by(AlarmOffer.expires_at)
        .with_for_update(skip_locked=True)
    ).all()
    for offer in due:
        alarm = session.get(Alarm, offer.alarm_id)
        if alarm is None:
            continue
        _end(session, offer, alarm, LAPSED, now)
        offer.desk_released_at = now
        out.lapsed.append(offer.id)
        out.commands.append(
            DeskCommand("pause", offer.interface, PAUSE_MISSED, f"alarm-offer-{offer.id}-lapsed")
        )


def _release_withdrawn(session: Session, now: datetime, out: RoutePass) -> None:
    """Desks paused for an offer somebody else took go back to ready (unless they moved on to
    another pause of their own, or hold another alarm)."""
    rows = session.scalars(
        select(AlarmOffer)
        .where(AlarmOffer.status == WITHDRAWN, AlarmOffer.desk_released_at.is_(None))
        .with_for_update(skip_locked=True)
    ).all()
    for offer in rows:
        offer.desk_released_at = now
        agent = session.get(Agent, offer.interface)
        holds_another = session.scalar(
            select(
                exists().where(AlarmOffer.user_id == offer.user_id, AlarmOffer.status == OFFERED)
            )
        )
        if agent is not None and agent.reason == PAUSE_HOLDING and not holds_another:
            out.commands.append(
                DeskCommand("unpause", offer.interface, "", f"alarm-offer-{offer.id}-released")
            )


def _claim_pauses(session: Session, now: datetime, out: RoutePass) -> None:
    rows = session.scalars(
        select(AlarmOffer)
        .where(AlarmOffer.status == OFFERED, AlarmOffer.desk_paused_at.is_(None))
        .with_for_update(skip_locked=True)
    ).all()
    for offer in rows:
        offer.desk_paused_at = now
        out.commands.append(
            DeskCommand("pause", offer.interface, PAUSE_HOLDING, f"alarm-offer-{offer.id}-pause")
        )


def route(session: Session, *, now: datetime | None = None) -> RoutePass:
    """One pass of the router: lapse the reservations that ran out, reserve every waiting alarm
    (most urgent, then oldest) for the longest-ready desk of its region, and claim the desks'
    pauses and releases. The caller commits, then sends ``commands``."""
    now = now or utcnow()
    out = RoutePass()
    _serialize(session)
    _expire(session, now, out)
    alarms = session.scalars(
        select(Alarm)
        .where(_waiting(), ~_open_offer_of_alarm())
        .order_by(Alarm.priority, Alarm.received_at, Alarm.id)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    desks = _ready_desks(session) if alarms else []
    for alarm in alarms:
        desk = next((d for d in desks if codes.is_within(alarm.region_code, d.region_code)), None)
        if desk is None:
            continue
        desks.remove(desk)
        offer = _offer(
            session, alarm, user_id=desk.user_id, interface=desk.interface, name=desk.name, now=now
        )
        out.offered.append(offer.id)
    _release_withdrawn(session, now, out)
    _claim_pauses(session, now, out)
    session.flush()
    return out


# ---------------------------------------------------------------- supervisors


def assign(session: Session, *, alarm_id: int, user_id: int, actor: Actor) -> AlarmOffer:
    """A supervisor reserves a waiting alarm for an agent of their choosing (the reservation
    runs out like any other); the alarm's current reservation is withdrawn. Audited."""
    _serialize(session)
    alarm = session.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None:
        raise NotFound(f"告警不存在: {alarm_id}", code="alarm_not_found")
    error: Exception | None = None
    if actor.role != Role.SUPERVISOR:
        error = PermissionDenied("只有值班主管可以指派告警")
    elif not codes.is_within(alarm.region_code, actor.region_code):
        error = OutOfRegion("无权访问其他地区的数据")
    if error is not None:
        audit.record_refusal(
            session,
            actor=actor,
            action="alarm.assign",
            target_type="alarm",
            target_id=alarm.id,
            detail={"reason": getattr(error, "code", "denied")},
        )
        raise error
    if alarm.status != AlarmStatus.WAITING:
        raise AlarmNotWaiting("该告警已有人接警", status=alarm.status)
    user = session.get(User, user_id)
    if (
        user is None
        or not user.active
        or not user.sip_interface
        or user.role not in DESK_ROLES
        or not codes.is_within(alarm.region_code, user.region_code)
    ):
        raise NotFound("该坐席不存在、未绑定分机或不负责该地区", code="agent_not_found")
    now = utcnow()
    current = session.scalar(
        select(AlarmOffer)
        .where(AlarmOffer.alarm_id == alarm.id, AlarmOffer.status == OFFERED)
        .with_for_update()
    )
    if current is not None and current.user_id == user.id:
        return current
    held = session.scalar(
        select(AlarmOffer.alarm_id).where(
            AlarmOffer.user_id == user.id, AlarmOffer.status == OFFERED
        )
    )
    if held is not None:
        raise DeskBusy(f"{user.display_name} 正有告警 #{held} 待接", alarm_id=held)
    if current is not None:
        _end(session, current, alarm, WITHDRAWN, now)
    offer = _offer(
        session,
        alarm,
        user_id=user.id,
        interface=user.sip_interface,
        name=user.display_name,
        now=now,
        assigned_by=actor.label[:64],
    )
    audit.record(
        session,
        actor=actor,
        action="alarm.assign",
        target_type="alarm",
        target_id=alarm.id,
        detail={"user_id": user.id, "offer_id": offer.id},
    )
    return offer


# ---------------------------------------------------------------- what screens show


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _offer_dict(offer: AlarmOffer, alarm: Alarm) -> dict[str, Any]:
    return {
        "alarm_id": alarm.id,
        "offer_id": offer.id,
        "alarm_type": alarm.alarm_type,
        "type_label": ALARM_TYPE_LABELS[AlarmType(alarm.alarm_type)],
        "priority": alarm.priority,
        "received_at": _iso(alarm.received_at),
        "offered_at": _iso(offer.offered_at),
        "expires_at": _iso(offer.expires_at),
        "unbound": alarm.unbound,
        "assigned_by": offer.assigned_by,
    }


def desk_holdings(session: Session, *, user_id: int) -> dict[str, Any]:
    """What a desk holds: the alarm reserved for it (if any) and the alarms it is handling, so
    a reload or a reconnect shows them again."""
    row = session.execute(
        select(AlarmOffer, Alarm)
        .join(Alarm, Alarm.id == AlarmOffer.alarm_id)
        .where(AlarmOffer.user_id == user_id, AlarmOffer.status == OFFERED)
    ).first()
    handling = session.scalars(
        select(Alarm)
        .where(Alarm.handler_user_id == user_id, Alarm.status == AlarmStatus.HANDLING.value)
        .order_by(Alarm.received_at)
    ).all()
    return {
        "offer": _offer_dict(row[0], row[1]) if row else None,
        "handling": [
            {
                "alarm_id": a.id,
                "alarm_type": a.alarm_type,
                "type_label": ALARM_TYPE_LABELS[AlarmType(a.alarm_type)],
                "received_at": _iso(a.received_at),
                "taken_at": _iso(a.taken_at),
            }
            for a in handling
        ],
    }


def waiting_board(session: Session, *, region_code: str) -> dict[str, Any]:
    """Every waiting alarm of the region with its age and reservation, oldest urgent first, and
    the desks a supervisor may assign one to."""
    alarms = session.scalars(
        select(Alarm)
        .where(_waiting(), within(Alarm.region_code, region_code))
        .order_by(Alarm.priority, Alarm.received_at, Alarm.id)
        .limit(200)
    ).all()
    ids = [a.id for a in alarms]
    offers = (
        {
            o.alarm_id: o
            for o in session.scalars(
                select(AlarmOffer).where(AlarmOffer.alarm_id.in_(ids), AlarmOffer.status == OFFERED)
            )
        }
        if ids
        else {}
    )
    lapses = (
        dict(
            session.execute(
                select(AlarmOffer.alarm_id, func.count())
                .where(AlarmOffer.alarm_id.in_(ids), AlarmOffer.status == LAPSED)
                .group_by(AlarmOffer.alarm_id)
            ).all()
        )
        if ids
        else {}
    )
    elder_ids = {a.elder_id for a in alarms if a.elder_id}
    names = (
        dict(session.execute(select(Elder.id, Elder.name).where(Elder.id.in_(elder_ids))).all())
        if elder_ids
        else {}
    )
    desks = session.execute(
        select(User.id, User.display_name, User.sip_interface, Agent.state, Agent.reason)
        .outerjoin(Agent, Agent.interface == User.sip_interface)
        .where(
            User.active.is_(True),
            User.role.in_(DESK_ROLES),
            User.sip_interface.is_not(None),
            within(User.region_code, region_code),
        )
        .order_by(User.display_name)
    ).all()
    return {
        "alarms": [
            {
                "alarm_id": a.id,
                "alarm_type": a.alarm_type,
                "type_label": ALARM_TYPE_LABELS[AlarmType(a.alarm_type)],
                "priority": a.priority,
                "received_at": _iso(a.received_at),
                "elder_name": mask_name(names[a.elder_id]) if a.elder_id in names else None,
                "unbound": a.unbound,
                "offered_to": offers[a.id].agent_name if a.id in offers else None,
                "offer_expires_at": _iso(offers[a.id].expires_at) if a.id in offers else None,
                "lapsed": int(lapses.get(a.id, 0)),
            }
            for a in alarms
        ],
        "desks": [
            {
                "user_id": uid,
                "name": name,
                "interface": iface,
                "state": state or "logged_out",
                "reason": reason,
            }
            for uid, name, iface, state, reason in desks
        ],
    }
