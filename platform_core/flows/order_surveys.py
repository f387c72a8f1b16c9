"""The IVR's return visit of an order: a survey call dialled to the elder, whose 1-5 key in the
survey flow becomes the order's rating (rated by the elder through the IVR).

A person asks for the call (the order must be waiting for its rating); the call is a row
committed first and dialled by a job after the commit (an Originate through callcenter into
``settings.survey_context`` with ``HOTLINE_SURVEY_CALL_ID`` set, waiting for Asterisk's
OriginateResponse), so a job delivered twice dials once. The IVR reports the answer and the key.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.accounts.permissions import Permission, require
from platform_core.actors import Actor, system_actor
from platform_core.audit import service as audit
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, NotFound
from platform_core.orders import service as orders
from platform_core.orders.models import OrderSurveyCall
from platform_core.orders.states import OrderStatus
from platform_core.outbox import enqueue_on_commit
from platform_core.regions.service import require_within
from platform_core.runtime import current_runtime
from platform_core.telephony.commands import (
    TelephonyClient,
    TelephonyOutcomeUnknown,
    TelephonyRejected,
    TelephonyUnavailable,
)

log = logging.getLogger(__name__)

JOB = "platform_core.flows.order_surveys:place_survey_call"
VARIABLE = "HOTLINE_SURVEY_CALL_ID"
# OriginateResponse Reason codes (Asterisk's AST_CONTROL_*): 3 rang out, 5 busy
_NOT_ANSWERED = {1: "no_answer", 3: "no_answer", 5: "busy"}
STATUS_LABELS = {
    "queued": "待呼叫",
    "dialling": "呼叫中",
    "answered": "已接通",
    "rated": "已评价",
    "no_answer": "无人接听",
    "busy": "忙",
    "failed": "呼叫失败",
    "not_placed": "未能发起",
}
IVR_RATER = "老人 (语音满意度评价)"


def get_survey_call(session: Session, *, survey_call_id: int) -> OrderSurveyCall:
    row = session.get(OrderSurveyCall, survey_call_id)
    if row is None:
        raise NotFound(f"满意度回访呼叫不存在: {survey_call_id} / no such survey call")
    return row


def request_survey_call(session: Session, *, actor: Actor, order_id: int) -> OrderSurveyCall:
    """Ask for the IVR's survey call of an order waiting for its rating; dialled after commit."""
    if actor.kind == "user":
        require(actor, Permission.DISPATCH_ORDERS)
    order = orders.get_order(session, order_id=order_id)
    require_within(order.region_code, actor.region_code)
    if order.status != OrderStatus.CONFIRMED:
        raise Conflict(
            "只有老人已确认、尚未评价的工单可以语音回访 / only a confirmed order not yet rated",
            code="order_not_awaiting_rating",
            status=order.status,
        )
    elder = session.get(Elder, order.elder_id)
    numbers = [p.number for p in elder.phones] if elder else []
    if not numbers:
        raise Conflict("老人没有登记电话 / the elder has no phone", code="no_phone")
    row = OrderSurveyCall(
        order_id=order.id,
        region_code=order.region_code,
        number=numbers[0],
        command_key=f"order-survey-{order.id}-{clock.now().timestamp():.0f}",
        requested_by=actor.label[:80],
    )
    session.add(row)
    session.flush()
    row.command_key = f"order-survey-{row.id}"
    audit.record(
        session,
        actor=actor,
        action="order.request_survey_call",
        target_type="service_order",
        target_id=order.id,
        detail={"survey_call_id": row.id},
    )
    enqueue_on_commit(session, JOB, row.id, job_id=f"order-survey-{row.id}")
    return row


def place_survey_call(survey_call_id: int) -> str:
    """The job: dial the elder once (the row says whether it was dialled already)."""
    rt = current_runtime()
    settings = rt.settings
    with rt.session() as s:
        row = get_survey_call(s, survey_call_id=survey_call_id)
        if row.status != "queued":
            return row.status
        row.status = "dialling"
        number, key = row.number, row.command_key
    client = TelephonyClient(rt)
    status, uniqueid, reason = "failed", None, None
    try:
        result = client.originate(
            channel=settings.care_trunk.format(number=number),
            exten="s",
            context=settings.survey_context,
            caller_id=settings.care_caller_id,
            variables={VARIABLE: str(survey_call_id)},
            timeout_s=settings.care_ring_timeout_s,
            wait=True,
            idempotency_key=key,
            actor=system_actor("满意度回访", settings.home_region_code),
        )
        uniqueid = str(result.data.get("uniqueid") or "") or None
        if result.ok:
            status = "answered"
        else:
            status = _NOT_ANSWERED.get(int(result.data.get("reason") or 0), "failed")
            reason = result.message
    except TelephonyUnavailable as exc:
        status, reason = "not_placed", exc.message
    except TelephonyRejected as exc:
        reason = exc.message
    except TelephonyOutcomeUnknown as exc:
        log.warning("满意度回访呼叫结果未知 / survey call %s outcome unknown", survey_call_id)
        status, reason = "failed", exc.message
    with rt.session() as s:
        row = get_survey_call(s, survey_call_id=survey_call_id)
        if row.status == "dialling":  # the IVR may already have reported the answer and key
            row.status = status
        row.uniqueid = row.uniqueid or uniqueid
        row.reason = (reason or "")[:80] or None
        if status != "answered" and row.status != "rated":
            row.finished_at = clock.now()
        return row.status


def survey_answered(session: Session, *, survey_call_id: int, uniqueid: str) -> OrderSurveyCall:
    """The elder picked up: the survey flow is running on the channel."""
    row = get_survey_call(session, survey_call_id=survey_call_id)
    if row.status in ("queued", "dialling"):
        row.status = "answered"
    row.uniqueid = uniqueid or row.uniqueid
    session.flush()
    return row


def rate_from_survey(
    session: Session, *, actor: Actor, survey_call_id: int, score: int
) -> OrderSurveyCall:
    """The elder's key in the survey flow: the order's rating, once."""
    row = get_survey_call(session, survey_call_id=survey_call_id)
    if row.status == "rated":
        return row
    order = orders.get_order(session, order_id=row.order_id)
    if order.status == OrderStatus.CONFIRMED:
        orders.rate(session, actor=actor, order_id=order.id, score=score, rated_by=IVR_RATER)
    row.status, row.score, row.finished_at = "rated", score, clock.now()
    session.flush()
    return row
