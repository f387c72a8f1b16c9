"""Text messages (短信): queue one from a template, deliver it through the gateway with retries
and back-off, follow its delivery status.

``send_sms`` is what every module calls; it writes the message to the outbox in the caller's
unit of work and, where a gateway is configured, enqueues its delivery after the commit. Without
a gateway (the embedded default) messages stay in the outbox, queued, for an operator to read.
Delivery jobs are idempotent: attempt ``n`` runs once, a sent message is never sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.elders import phones
from platform_core.errors import NotFound, OutOfRegion, ValidationFailed
from platform_core.events import publish_on_commit
from platform_core.notifications.events import SmsFailed
from platform_core.notifications.models import OutboxEvent, OutboxMessage, SmsStatus
from platform_core.notifications.templates import render
from platform_core.notifications.transport import GatewayError, GatewayMessage, gateway_for
from platform_core.outbox import enqueue_on_commit
from platform_core.regions import codes
from platform_core.regions.service import within
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_phone

log = logging.getLogger(__name__)

# The queue text messages go through; `hotline worker` serves it (settings.worker_queues).
SMS_QUEUE = "sms"
DELIVER_JOB = "platform_core.notifications.jobs:deliver_sms"
POLL_JOB = "platform_core.notifications.jobs:poll_sms_status"
# Status polls after sending: the gateway's answer usually settles within the first few.
MAX_POLLS = 5
_FINAL = {
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.FAILED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}


class MessageNotFound(NotFound):
    code = "sms_not_found"


class NotAMobile(ValidationFailed):
    code = "not_a_mobile"


def mobile_or_none(raw: str | None) -> str | None:
    """The canonical mobile number, or None for a landline, a service number or nonsense."""
    number = phones.try_normalize_phone(raw)
    return number.digits if number is not None and number.kind == phones.PhoneKind.MOBILE else None


def _log(msg: OutboxMessage, event: str, **detail: Any) -> None:
    msg.log.append(OutboxEvent(at=utcnow(), status=msg.status, event=event, detail=detail))


def _deliver_later(session: Session, msg: OutboxMessage, attempt: int, at: datetime | None) -> None:
    enqueue_on_commit(
        session,
        DELIVER_JOB,
        msg.id,
        attempt,
        job_id=f"sms-{msg.id}-{attempt}",
        at=at,
        queue=SMS_QUEUE,
    )


def send_sms(
    session: Session,
    *,
    to: str,
    template: str,
    params: Mapping[str, Any],
    actor: Actor,
    ref_type: str,
    ref_id: str | int,
    region_code: str | None = None,
    to_name: str = "",
) -> OutboxMessage:
    """Queue one text message to a mobile number from a Chinese template.

    Idempotent per (``ref_type``, ``ref_id``, recipient, template): asked twice, it returns the
    message queued the first time. Flushed with the caller's unit of work; delivery starts
    after the commit.
    """
    number = mobile_or_none(to)
    if number is None:
        raise NotAMobile(
            f"短信只能发往手机号码: {mask_phone(to or '')} / SMS goes to mobile numbers only"
        )
    body = render(template, params)
    key = (ref_type, str(ref_id), number, template)
    existing = _find(session, *key)
    if existing is not None:
        return existing
    channel = "outbox" if gateway_for(settings_of(session)) is None else "twilio"
    msg = OutboxMessage(
        to_number=number,
        to_name=to_name,
        template=template,
        body_sealed=cipher_of(session).seal(body),
        ref_type=ref_type,
        ref_id=str(ref_id),
        region_code=region_code or actor.region_code,
        status=SmsStatus.QUEUED,
        channel=channel,
        created_by=actor.label,
    )
    _log(msg, "queued", channel=channel)
    try:
        with session.begin_nested():
            session.add(msg)
            session.flush()
    except IntegrityError:
        # the same message queued at the same moment by a second delivery of the same job
        found = _find(session, *key)
        if found is None:
            raise
        return found
    if channel != "outbox":
        _deliver_later(session, msg, 1, None)
    return msg


def _find(
    session: Session, ref_type: str, ref_id: str, number: str, template: str
) -> OutboxMessage | None:
    return session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.ref_type == ref_type,
            OutboxMessage.ref_id == ref_id,
            OutboxMessage.to_number == number,
            OutboxMessage.template == template,
        )
    )


def _lock(session: Session, message_id: int) -> OutboxMessage:
    msg = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if msg is None:
        raise MessageNotFound(f"短信不存在: {message_id} / unknown message")
    return msg


def _apply_gateway_status(msg: OutboxMessage, sent: GatewayMessage, now: datetime) -> None:
    msg.gateway_sid = sent.sid
    msg.gateway_status = sent.status
    final = _FINAL.get(sent.status)
    if final == SmsStatus.DELIVERED:
        msg.status, msg.delivered_at = SmsStatus.DELIVERED, now
    elif final == SmsStatus.FAILED:
        msg.status, msg.failed_at = SmsStatus.FAILED, now
        msg.error_code, msg.last_error = sent.error_code, sent.error_message or sent.status
    else:
        msg.status = SmsStatus.SENT


def deliver(session: Session, *, message_id: int, attempt: int, now: datetime | None = None) -> str:
    """Attempt ``attempt`` of a queued message; returns the message's status afterwards."""
    msg = _lock(session, message_id)
    if msg.status != SmsStatus.QUEUED or msg.attempts >= attempt:
        return msg.status  # sent already, failed, or this attempt ran before
    gateway = gateway_for(settings_of(session))
    if gateway is None:
        return "outbox"
    settings = settings_of(session)
    now = now or utcnow()
    msg.attempts, msg.channel = attempt, gateway.name
    try:
        sent = gateway.send(to=msg.to_number, body=cipher_of(session).open(msg.body_sealed))
    except GatewayError as err:
        msg.error_code, msg.last_error = err.code, err.message
        if err.retriable and attempt < settings.sms_max_attempts:
            delay = settings.sms_retry_base_s * 2 ** (attempt - 1)
            msg.next_attempt_at = now + timedelta(seconds=delay)
            _log(
                msg, "retry", attempt=attempt, error=err.code, http_status=err.status, delay_s=delay
            )
            _deliver_later(session, msg, attempt + 1, msg.next_attempt_at)
        else:
            _fail(session, msg, now, attempt=attempt, error=err.code, http_status=err.status)
        session.flush()
        return msg.status
    msg.sent_at, msg.next_attempt_at = now, None
    _apply_gateway_status(msg, sent, now)
    _log(msg, "sent", attempt=attempt, sid=sent.sid, gateway_status=sent.status)
    if msg.status == SmsStatus.FAILED:
        _fail(session, msg, now, attempt=attempt, error=msg.error_code, http_status=None)
    elif msg.status == SmsStatus.SENT:
        _poll_later(session, msg, 1)
    session.flush()
    return msg.status


def _fail(session: Session, msg: OutboxMessage, now: datetime, **detail: Any) -> None:
    msg.status, msg.failed_at, msg.next_attempt_at = SmsStatus.FAILED, now, None
    _log(msg, "failed", **detail)
    publish_on_commit(
        session,
        SmsFailed(
            message_id=msg.id,
            region_code=msg.region_code,
            ref_type=msg.ref_type,
            ref_id=msg.ref_id,
            template=msg.template,
            error_code=msg.error_code,
        ),
    )


def _poll_later(session: Session, msg: OutboxMessage, n: int) -> None:
    delay = settings_of(session).sms_status_poll_s * 2 ** (n - 1)
    enqueue_on_commit(
        session,
        POLL_JOB,
        msg.id,
        n,
        job_id=f"sms-status-{msg.id}-{n}",
        at=utcnow() + timedelta(seconds=delay),
        queue=SMS_QUEUE,
    )


def poll_status(session: Session, *, message_id: int, n: int) -> str:
    """Ask the gateway how a sent message fared (poll ``n``); asks again later while unsettled."""
    msg = _lock(session, message_id)
    if msg.status != SmsStatus.SENT or msg.gateway_sid is None:
        return msg.status
    gateway = gateway_for(settings_of(session))
    if gateway is None:
        return msg.status
    now = utcnow()
    try:
        found = gateway.fetch(msg.gateway_sid)
    except GatewayError as err:
        log.warning("短信状态查询失败 / status poll of %s failed: %s", msg.id, err.message)
        found = None
    if found is not None and found.status != msg.gateway_status:
        _apply_gateway_status(msg, found, now)
        _log(msg, "status", gateway_status=found.status, error=found.error_code)
        if msg.status == SmsStatus.FAILED:
            _fail(session, msg, now, error=found.error_code, http_status=None)
    if msg.status == SmsStatus.SENT and n < MAX_POLLS:
        _poll_later(session, msg, n + 1)
    session.flush()
    return msg.status


def requeue_unsent(session: Session) -> int:
    """Recovery at worker start: delivery jobs for queued messages (also those written while no
    gateway was configured, once one is) and status polls for sent ones."""
    if gateway_for(settings_of(session)) is None:
        return 0
    n = 0
    for msg in session.scalars(
        select(OutboxMessage).where(OutboxMessage.status.in_([SmsStatus.QUEUED, SmsStatus.SENT]))
    ):
        if msg.status == SmsStatus.QUEUED:
            msg.channel = "twilio"
            _deliver_later(session, msg, msg.attempts + 1, msg.next_attempt_at)
        else:
            _poll_later(session, msg, 1)
        n += 1
    session.flush()
    return n


# ---------------------------------------------------------------- queries


def get_message(session: Session, *, message_id: int) -> OutboxMessage:
    msg = session.get(OutboxMessage, message_id)
    if msg is None:
        raise MessageNotFound(f"短信不存在: {message_id} / unknown message")
    return msg


def list_messages(
    session: Session,
    *,
    region_code: str,
    status: str | None = None,
    ref_type: str | None = None,
    ref_id: str | None = None,
    limit: int = 200,
) -> list[OutboxMessage]:
    q = (
        select(OutboxMessage)
        .where(within(OutboxMessage.region_code, region_code))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if status is not None:
        q = q.where(OutboxMessage.status == status)
    if ref_type is not None:
        q = q.where(OutboxMessage.ref_type == ref_type)
    if ref_id is not None:
        q = q.where(OutboxMessage.ref_id == ref_id)
    return list(session.scalars(q))


def summary(msg: OutboxMessage) -> dict[str, Any]:
    """A message as lists show it: the number masked, the text left out."""
    return {
        "id": msg.id,
        "to": mask_phone(msg.to_number),
        "to_name": msg.to_name,
        "template": msg.template,
        "ref": f"{msg.ref_type}:{msg.ref_id}",
        "status": msg.status,
        "channel": msg.channel,
        "gateway_sid": msg.gateway_sid,
        "attempts": msg.attempts,
        "error_code": msg.error_code,
        "created_at": msg.created_at.isoformat(),
    }


def read_message(session: Session, *, actor: Actor, message_id: int) -> str:
    """The message text in clear (it holds personal data): audited."""
    msg = get_message(session, message_id=message_id)
    if not codes.is_within(msg.region_code, actor.region_code):
        audit.record_refusal(
            session,
            actor=actor,
            action="sms.read",
            target_type="sms",
            target_id=msg.id,
            detail={"reason": "out_of_region"},
        )
        raise OutOfRegion("无权查看其他地区的短信 / outside your region")
    audit.record(session, actor=actor, action="sms.read", target_type="sms", target_id=msg.id)
    return cipher_of(session).open(msg.body_sealed)
