"""Proactive care calls (主动关怀): who is called, each attempt, and what follows silence.

A campaign selects the living elders of a region who live alone, are very old or in hardship
(criteria from settings, overridable per campaign). Each elder gets a :class:`CareCall`; each
dialling is a :class:`CareCallAttempt`. An answered call ends with the elder's key (1 well, 2
needs help, nothing: a person takes over). An unanswered one is retried after an interval;
when the attempts are used up the first emergency contact gets a text message and a visit order
is opened. Deceased elders are never called: not selected, and checked again before each dial.

Functions here flush and never commit; the follow-up they return (a retry time) is scheduled
by the caller after its commit (``platform_core.care_calls.jobs``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.care_calls import notify
from platform_core.care_calls.events import (
    CareCallAttempted,
    CareCallUnreachable,
    CareCampaignCreated,
    CareCampaignFinished,
    CareHelpRequested,
)
from platform_core.care_calls.models import CareCall, CareCallAttempt, CareCampaign
from platform_core.db import utcnow
from platform_core.elders.models import Elder, ElderCategory, ElderPhone
from platform_core.elders.service import today_in
from platform_core.elders.vocabulary import ElderStatus
from platform_core.errors import (
    DomainError,
    IllegalTransition,
    NotFound,
    OutOfRegion,
    ValidationFailed,
)
from platform_core.events import publish_on_commit
from platform_core.orders.service import open_order
from platform_core.regions.codes import is_within
from platform_core.regions.service import within
from platform_core.runtime import settings_of

log = logging.getLogger(__name__)

FINAL = frozenset({"well", "needs_help", "no_key", "unreachable", "skipped", "cancelled"})
NO_ANSWER_RESULTS = frozenset({"no_answer", "busy", "failed"})


@dataclass(frozen=True)
class CareCriteria:
    """An elder is called when any one criterion holds, or (``match_all``) when every one set
    holds: "living alone and 80 or older" is ``min_age=80, living_arrangements=("alone",),
    match_all=True``."""

    min_age: int | None = None
    categories: tuple[str, ...] = ()
    living_arrangements: tuple[str, ...] = ()
    match_all: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_age": self.min_age,
            "categories": list(self.categories),
            "living_arrangements": list(self.living_arrangements),
            "match_all": self.match_all,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CareCriteria:
        return cls(
            min_age=data.get("min_age"),
            categories=tuple(data.get("categories") or ()),
            living_arrangements=tuple(data.get("living_arrangements") or ()),
            match_all=bool(data.get("match_all", False)),
        )


def default_criteria(session: Session) -> CareCriteria:
    s = settings_of(session)
    return CareCriteria(
        min_age=s.care_min_age or None,
        categories=tuple(c.strip() for c in s.care_categories.split(",") if c.strip()),
        living_arrangements=tuple(
            a.strip() for a in s.care_living_arrangements.split(",") if a.strip()
        ),
    )


@dataclass(frozen=True)
class FollowUp:
    """What the caller schedules after committing: the next attempt, if any."""

    care_call_id: int
    next_attempt_no: int | None = None
    retry_at: datetime | None = None
    escalated: bool = False


def _born_on_or_before(today: date, age: int) -> date:
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February
        return today.replace(year=today.year - age, day=28)


def _conditions(criteria: CareCriteria, today: date) -> list[Any]:
    conditions: list[Any] = []
    if criteria.min_age:
        conditions.append(Elder.birth_date <= _born_on_or_before(today, criteria.min_age))
    if criteria.living_arrangements:
        conditions.append(Elder.living_arrangement.in_(criteria.living_arrangements))
    if criteria.categories:
        in_category = select(ElderCategory.elder_id).where(
            ElderCategory.category.in_(criteria.categories)
        )
        conditions.append(Elder.id.in_(in_category))
    if not conditions:
        raise ValidationFailed("关怀对象条件为空 / a campaign needs at least one criterion")
    return conditions


def _matching(region_code: str, criteria: CareCriteria, today: date) -> list[Any]:
    conditions = _conditions(criteria, today)
    return [
        within(Elder.region_code, region_code),
        Elder.status == ElderStatus.ACTIVE.value,
        and_(*conditions) if criteria.match_all else or_(*conditions),
        exists().where(ElderPhone.elder_id == Elder.id),
    ]


def eligible_elders(
    session: Session, *, region_code: str, criteria: CareCriteria, today: date
) -> list[Elder]:
    """Living elders in ``region_code`` (and below) matching the criteria, with a phone."""
    q = (
        select(Elder)
        .where(*_matching(region_code, criteria, today))
        .options(selectinload(Elder.phones))
        .order_by(Elder.id)
    )
    return list(session.scalars(q))


def count_eligible(
    session: Session, *, region_code: str, criteria: CareCriteria, today: date
) -> int:
    """How many elders a campaign with these criteria would call (the form's preview)."""
    return int(
        session.scalar(
            select(func.count()).select_from(Elder).where(*_matching(region_code, criteria, today))
        )
        or 0
    )


def number_to_call(elder: Elder) -> str | None:
    """The home landline first (who lives alone is most often reached there), else a mobile."""
    homes = [p.number for p in elder.phones if p.kind == "home"]
    others = [p.number for p in elder.phones if p.kind != "home"]
    return (homes + others)[0] if homes or others else None


def create_campaign(
    session: Session,
    *,
    actor: Actor,
    name: str,
    region_code: str,
    criteria: CareCriteria | None = None,
    reason: str = "routine",
    scheduled_for: datetime | None = None,
    max_attempts: int | None = None,
    retry_interval_min: int | None = None,
    today: date | None = None,
) -> CareCampaign:
    """Create a campaign and one care call per eligible elder; start it with ``jobs.start_campaign``."""
    if not is_within(region_code, actor.region_code):
        raise ValidationFailed("只能为本辖区创建关怀计划 / a campaign must lie within your region")
    settings = settings_of(session)
    criteria = criteria or default_criteria(session)
    attempts = max_attempts if max_attempts is not None else settings.care_max_attempts
    interval = (
        retry_interval_min if retry_interval_min is not None else settings.care_retry_interval_min
    )
    if attempts < 1 or interval < 1:
        raise ValidationFailed(
            "尝试次数和重拨间隔至少为 1 / attempts and retry interval must be at least 1"
        )

    campaign = CareCampaign(
        name=name[:80],
        region_code=region_code,
        criteria=criteria.as_dict(),
        reason=reason,
        max_attempts=attempts,
        retry_interval_min=interval,
        scheduled_for=scheduled_for or utcnow(),
        created_by=actor.label[:64],
    )
    session.add(campaign)
    session.flush()
    elders = eligible_elders(
        session, region_code=region_code, criteria=criteria, today=today or today_in(session)
    )
    for elder in elders:
        session.add(
            CareCall(
                campaign_id=campaign.id,
                elder_id=elder.id,
                region_code=elder.region_code,
                number=number_to_call(elder) or "",
                next_attempt_at=campaign.scheduled_for,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="care_campaign.create",
        target_type="care_campaign",
        target_id=campaign.id,
        detail={"region_code": region_code, "criteria": criteria.as_dict(), "calls": len(elders)},
    )
    publish_on_commit(
        session,
        CareCampaignCreated(
            region_code=region_code, campaign_id=campaign.id, name=campaign.name, calls=len(elders)
        ),
    )
    return campaign


def get_campaign(session: Session, *, campaign_id: int) -> CareCampaign:
    row = session.get(CareCampaign, campaign_id)
    if row is None:
        raise NotFound(f"关怀计划不存在 / no care campaign {campaign_id}")
    return row


def get_care_call(session: Session, *, care_call_id: int) -> CareCall:
    row = session.get(CareCall, care_call_id)
    if row is None:
        raise NotFound(f"关怀呼叫不存在 / no care call {care_call_id}")
    return row


def get_attempt(session: Session, *, attempt_id: int) -> CareCallAttempt:
    row = session.get(CareCallAttempt, attempt_id)
    if row is None:
        raise NotFound(f"关怀呼叫尝试不存在 / no care call attempt {attempt_id}")
    return row


def list_calls(session: Session, *, campaign_id: int, status: str | None = None) -> list[CareCall]:
    q = select(CareCall).where(CareCall.campaign_id == campaign_id).order_by(CareCall.id)
    if status is not None:
        q = q.where(CareCall.status == status)
    return list(session.scalars(q))


def due_calls(session: Session, *, campaign_id: int, now: datetime | None = None) -> list[CareCall]:
    """Calls waiting for their next attempt whose time has come."""
    q = (
        select(CareCall)
        .where(
            CareCall.campaign_id == campaign_id,
            CareCall.status.in_(("pending", "retry")),
            CareCall.next_attempt_at <= (now or utcnow()),
        )
        .order_by(CareCall.id)
    )
    return list(session.scalars(q))


def mark_running(session: Session, *, campaign_id: int) -> CareCampaign:
    campaign = get_campaign(session, campaign_id=campaign_id)
    if campaign.status == "scheduled":
        campaign.status = "running"
        session.flush()
    return campaign


def begin_attempt(
    session: Session, *, actor: Actor, care_call_id: int, attempt_no: int
) -> CareCallAttempt | None:
    """Record attempt ``attempt_no`` before dialling; None when there is nothing to dial (the
    attempt exists already, the call is settled, or the elder has died in the meantime)."""
    call = session.get(CareCall, care_call_id, with_for_update=True)
    if call is None:
        raise NotFound(f"关怀呼叫不存在 / no care call {care_call_id}")
    if call.status in FINAL or call.attempts >= attempt_no:
        return None
    if attempt_no != call.attempts + 1:
        raise IllegalTransition(
            f"尝试次序不对 / attempt {attempt_no} out of order (made {call.attempts})",
            care_call_id=care_call_id,
        )
    if call.campaign.status == "cancelled":
        return None
    elder = session.get(Elder, call.elder_id)
    if elder is None or elder.status != ElderStatus.ACTIVE.value or not call.number:
        call.status = "skipped"
        call.outcome_at = utcnow()
        call.note = "老人已故或迁出, 或无电话 / elder deceased, moved or without a phone"
        session.flush()
        _maybe_finish(session, call.campaign_id)
        return None
    call.attempts = attempt_no
    call.status = "calling"
    call.next_attempt_at = None
    attempt = CareCallAttempt(
        care_call_id=call.id,
        attempt_no=attempt_no,
        number=call.number,
        command_key=f"care-call-{call.id}-{attempt_no}",
    )
    session.add(attempt)
    session.flush()
    return attempt


def record_dialled(
    session: Session, *, attempt_id: int, uniqueid: str | None = None
) -> CareCallAttempt:
    """The Originate was accepted: the phone is ringing."""
    attempt = get_attempt(session, attempt_id=attempt_id)
    if attempt.status == "placing":
        attempt.status = "dialling"
        attempt.uniqueid = uniqueid or attempt.uniqueid
        session.flush()
    return attempt


@dataclass(frozen=True)
class AnsweredCall:
    care_call_id: int
    elder_id: int
    region_code: str
    attempt_no: int
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _publish_attempted(
    session: Session, call: CareCall, attempt: CareCallAttempt, result: str
) -> None:
    # an attempt ends answered or not, and either way is announced with the same event
    publish_on_commit(
        session,
        CareCallAttempted(
            region_code=call.region_code,
            care_call_id=call.id,
            elder_id=call.elder_id,
            attempt_no=attempt.attempt_no,
            result=result,
            campaign_id=call.campaign_id,
        ),
    )


def record_answered(
    session: Session, *, actor: Actor, attempt_id: int, uniqueid: str
) -> AnsweredCall:
    """The elder picked up (the outbound flow started on the channel)."""
    attempt = get_attempt(session, attempt_id=attempt_id)
    call = attempt.care_call
    if attempt.status in ("placing", "dialling", "no_answer"):
        attempt.status = "answered"
        attempt.answered_at = utcnow()
        attempt.uniqueid = uniqueid
        session.flush()
    elder = session.get(Elder, call.elder_id)
    return AnsweredCall(
        care_call_id=call.id,
        elder_id=call.elder_id,
        region_code=call.region_code,
        attempt_no=attempt.attempt_no,
        language=elder.ivr_language if elder is not None else None,
    )


def record_response(session: Session, *, actor: Actor, attempt_id: int, response: str) -> CareCall:
    """The elder's key: ``well`` (1) or ``needs_help`` (2, a person takes the call at once)."""
    if response not in ("well", "needs_help", "no_key"):
        raise ValidationFailed(f"未知的关怀回复 / unknown care response {response}")
    attempt = get_attempt(session, attempt_id=attempt_id)
    call = attempt.care_call
    if attempt.status in ("well", "needs_help", "no_key"):
        return call
    attempt.status = response
    attempt.answered_at = attempt.answered_at or utcnow()
    attempt.ended_at = utcnow()
    call.status = response
    call.outcome_at = utcnow()
    session.flush()
    _publish_attempted(session, call, attempt, response)
    if response in ("needs_help", "no_key"):
        publish_on_commit(
            session,
            CareHelpRequested(
                region_code=call.region_code,
                care_call_id=call.id,
                elder_id=call.elder_id,
                uniqueid=attempt.uniqueid,
                campaign_id=call.campaign_id,
            ),
        )
    _maybe_finish(session, call.campaign_id)
    return call


def record_no_answer(
    session: Session,
    *,
    actor: Actor,
    attempt_id: int,
    result: str = "no_answer",
    reason: str | None = None,
) -> FollowUp:
    """The attempt was not answered (or busy, or failed): retry later or, with the attempts used
    up, tell the first emergency contact and open a visit order."""
    if result not in NO_ANSWER_RESULTS:
        raise ValidationFailed(f"未知的呼叫结果 / unknown attempt result {result}")
    attempt = get_attempt(session, attempt_id=attempt_id)
    call = attempt.care_call
    if attempt.status not in ("placing", "dialling"):
        return FollowUp(call.id)  # settled already (answered, or reported twice)
    attempt.status = result
    attempt.reason = (reason or "")[:80] or None
    attempt.ended_at = utcnow()
    _publish_attempted(session, call, attempt, result)
    campaign = call.campaign
    if call.attempts < campaign.max_attempts and campaign.status != "cancelled":
        call.status = "retry"
        call.next_attempt_at = utcnow() + timedelta(minutes=campaign.retry_interval_min)
        session.flush()
        return FollowUp(call.id, next_attempt_no=call.attempts + 1, retry_at=call.next_attempt_at)
    _escalate(session, actor=actor, call=call)
    return FollowUp(call.id, escalated=True)


def record_not_placed(
    session: Session, *, actor: Actor, attempt_id: int, reason: str | None = None
) -> FollowUp:
    """The call could not be placed at all (callcenter unreachable): the phone never rang, so
    the attempt does not count; the same attempt number is tried again after the interval."""
    attempt = get_attempt(session, attempt_id=attempt_id)
    call = attempt.care_call
    if attempt.status != "placing":
        return FollowUp(call.id)
    log.warning("关怀外呼未能发起, 稍后重试 / care call %s not placed: %s", call.id, reason)
    session.delete(attempt)
    call.attempts -= 1
    call.status = "retry"
    call.next_attempt_at = utcnow() + timedelta(minutes=call.campaign.retry_interval_min)
    call.note = f"未能发起外呼 / not placed: {reason or ''}"[:255]
    session.flush()
    return FollowUp(call.id, next_attempt_no=call.attempts + 1, retry_at=call.next_attempt_at)


def settle_stale_attempt(session: Session, *, actor: Actor, attempt_id: int) -> FollowUp:
    """An attempt with no outcome after ``care_attempt_timeout_min``: if it rang unanswered it
    counts as not answered; if the elder answered and pressed nothing, a person took it."""
    attempt = get_attempt(session, attempt_id=attempt_id)
    if attempt.status in ("placing", "dialling"):
        return record_no_answer(
            session, actor=actor, attempt_id=attempt_id, reason="无结果超时 / no outcome in time"
        )
    if attempt.status == "answered":
        record_response(session, actor=actor, attempt_id=attempt_id, response="no_key")
    return FollowUp(attempt.care_call_id)


def _escalate(session: Session, *, actor: Actor, call: CareCall) -> None:
    elder = session.get(Elder, call.elder_id)
    call.status = "unreachable"
    call.outcome_at = utcnow()
    if elder is not None:
        notice = notify.notify_first_contact(
            session,
            elder=elder,
            care_call_id=call.id,
            text=(
                f"【12349养老服务热线】您好，我们今天{call.attempts}次致电{elder.name}未能接通，"
                "已安排工作人员上门探视。如方便，请您也尽快联系老人。"
            ),
        )
        call.notice_id = notice.id if notice is not None else None
        call.visit_order_id = _open_visit_order(session, actor=actor, call=call)
    session.flush()
    publish_on_commit(
        session,
        CareCallUnreachable(
            region_code=call.region_code,
            care_call_id=call.id,
            elder_id=call.elder_id,
            attempts=call.attempts,
            visit_order_id=call.visit_order_id,
            notice_id=call.notice_id,
            campaign_id=call.campaign_id,
        ),
    )
    _maybe_finish(session, call.campaign_id)


def _open_visit_order(session: Session, *, actor: Actor, call: CareCall) -> int | None:
    settings = settings_of(session)
    try:
        with session.begin_nested():
            order = open_order(
                session,
                actor=actor,
                elder_id=call.elder_id,
                service_type_code=settings.care_visit_service_type,
                source="care_call",
                urgency="urgent",
                notes=f"主动关怀 {call.attempts} 次未接通, 请上门探视 / care call unanswered {call.attempts} times: visit",
                source_ref=f"care-call:{call.id}",
            )
    except DomainError as exc:
        log.error(
            "无法为关怀呼叫 %s 开立上门探视工单 / visit order refused: %s", call.id, exc.message
        )
        call.note = f"探视工单未开立 / visit order refused: {exc.code}"[:255]
        return None
    return int(order.id)


def _maybe_finish(session: Session, campaign_id: int) -> None:
    open_calls = session.scalar(
        select(func.count()).where(
            CareCall.campaign_id == campaign_id, CareCall.status.not_in(FINAL)
        )
    )
    if open_calls:
        return
    campaign = get_campaign(session, campaign_id=campaign_id)
    if campaign.status in ("finished", "cancelled"):
        return
    campaign.status = "finished"
    campaign.finished_at = utcnow()
    counts = campaign_summary(session, campaign_id=campaign_id)
    session.flush()
    publish_on_commit(
        session,
        CareCampaignFinished(
            region_code=campaign.region_code,
            campaign_id=campaign.id,
            well=counts.get("well", 0),
            needs_help=counts.get("needs_help", 0) + counts.get("no_key", 0),
            unreachable=counts.get("unreachable", 0),
        ),
    )


def campaign_summary(session: Session, *, campaign_id: int) -> dict[str, int]:
    """How many care calls of the campaign are in each status."""
    rows = session.execute(
        select(CareCall.status, func.count())
        .where(CareCall.campaign_id == campaign_id)
        .group_by(CareCall.status)
    )
    return {status: int(n) for status, n in rows}


def cancel_campaign(session: Session, *, actor: Actor, campaign_id: int) -> CareCampaign:
    campaign = get_campaign(session, campaign_id=campaign_id)
    if not is_within(campaign.region_code, actor.region_code):
        raise OutOfRegion("无权访问其他地区的数据 / outside your region")
    if campaign.status == "finished":
        raise IllegalTransition("关怀计划已结束 / the campaign has finished")
    campaign.status = "cancelled"
    campaign.finished_at = utcnow()
    for call in campaign.calls:
        if call.status in ("pending", "retry"):
            call.status = "cancelled"
            call.next_attempt_at = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="care_campaign.cancel",
        target_type="care_campaign",
        target_id=campaign.id,
    )
    return campaign
