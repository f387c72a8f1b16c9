"""The elder's confirmation of a service (老人确认): a code the elder reads out, or a signature.

At check-in a six-digit code goes by SMS to the elder's mobile (or the first family mobile);
when the work is done the staff member asks the elder for it and enters it. Only a keyed hash
of the code is stored; wrong codes are counted (the count survives the refusal) and the code
stops working after too many. An elder without a mobile signs on the staff member's phone.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from platform_core.actors import Actor
from platform_core.db import utcnow
from platform_core.errors import Conflict, ValidationFailed
from platform_core.orders import service as orders
from platform_core.orders.evidence import CODE, SIGNATURE, Evidence
from platform_core.orders.models import OrderConfirmationCode, OrderPhoto, ServiceOrder
from platform_core.orders.states import Command
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_phone

_FAILED_TRIES = "confirmation_failed_tries"


class WrongConfirmationCode(ValidationFailed):
    code = "wrong_confirmation_code"


def _hash(session: Session, order_id: int, code: str) -> str:
    return cipher_of(session).blind_index(f"order-confirmation:{order_id}:{code}")


def issue_code(session: Session, *, order_id: int, sent_to: str = "") -> str:
    """A fresh code for the order (replacing any earlier one); the caller sends it.

    The order is locked first: the completion message's job and a resend from the console may
    issue at the same moment, and both would find no code and insert one (the second refused by
    the unique key); locked, the second waits and replaces the first's code."""
    orders.lock_order(session, order_id=order_id)
    code = f"{secrets.randbelow(10**6):06d}"
    now = utcnow()
    row = session.scalar(
        select(OrderConfirmationCode).where(OrderConfirmationCode.order_id == order_id)
    )
    if row is None:
        row = OrderConfirmationCode(order_id=order_id)
        session.add(row)
    row.code_hash = _hash(session, order_id, code)
    row.sent_to_masked = mask_phone(sent_to) if sent_to else ""
    row.issued_at, row.tries, row.used_at = now, 0, None
    row.expires_at = now + timedelta(hours=settings_of(session).confirmation_code_ttl_h)
    session.flush()
    return code


def code_status(session: Session, *, order_id: int) -> dict[str, Any] | None:
    row = session.scalar(
        select(OrderConfirmationCode).where(OrderConfirmationCode.order_id == order_id)
    )
    if row is None:
        return None
    return {
        "sent_to": row.sent_to_masked,
        "issued_at": row.issued_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "tries_left": max(0, settings_of(session).confirmation_code_max_tries - row.tries),
        "used": row.used_at is not None,
    }


def confirm_with_code(session: Session, *, actor: Actor, order_id: int, code: str) -> ServiceOrder:
    """Confirm the order with the code the elder read out."""
    order = orders.get_order(session, order_id=order_id)
    # who may confirm this order at all comes first: nobody else may spend its tries
    orders._authorize(
        session, actor=actor, command=Command.CONFIRM, region_code=order.region_code, order=order
    )
    row = session.scalar(
        select(OrderConfirmationCode).where(OrderConfirmationCode.order_id == order.id)
    )
    settings = settings_of(session)
    problem: tuple[str, str] | None = None
    if not (code or "").strip():
        # nothing read out: not a try, and not a confirmation
        problem = (
            "confirmation_code_required",
            "请输入老人收到的短信确认码 / enter the code the elder received",
        )
    elif row is None:
        problem = ("no_confirmation_code", "该工单尚未发送确认码 / no code was sent for this order")
    elif row.used_at is not None:
        problem = ("confirmation_code_used", "确认码已使用 / the code was already used")
    elif row.expires_at < utcnow():
        problem = ("confirmation_code_expired", "确认码已过期, 请重新发送 / the code expired")
    elif row.tries >= settings.confirmation_code_max_tries:
        problem = (
            "confirmation_code_locked",
            "确认码错误次数过多, 请重新发送 / too many wrong codes",
        )
    if problem is not None:
        orders.refuse_on_order(
            session, actor=actor, action="order.confirm", order_id=order.id, reason=problem[0]
        )
        raise Conflict(problem[1], code=problem[0])
    assert row is not None
    given = (code or "").strip()
    if not any(
        secrets.compare_digest(row.code_hash, h)
        for h in cipher_of(session).blind_indexes(f"order-confirmation:{order.id}:{given}")
    ):
        _count_failed_try(session, row.id)
        orders.refuse_on_order(
            session,
            actor=actor,
            action="order.confirm",
            order_id=order.id,
            reason="wrong_confirmation_code",
        )
        left = settings.confirmation_code_max_tries - row.tries - 1
        raise WrongConfirmationCode(
            f"确认码不正确, 还可尝试 {max(0, left)} 次 / wrong code, {max(0, left)} tries left",
            tries_left=max(0, left),
        )
    # spent before the step: the domain's confirm checks that this order's code was used
    row.used_at = utcnow()
    session.flush()
    return orders.confirm(
        session,
        actor=actor,
        order_id=order.id,
        confirmed_by="老人本人",
        evidence=Evidence(CODE, str(row.id)),
    )


def confirm_with_signature(
    session: Session, *, actor: Actor, order_id: int, photo_id: int, confirmed_by: str
) -> ServiceOrder:
    """Confirm with a signature the elder (or family member) drew, uploaded as a photo."""
    order = orders.get_order(session, order_id=order_id)
    orders._authorize(
        session, actor=actor, command=Command.CONFIRM, region_code=order.region_code, order=order
    )
    photo = session.get(OrderPhoto, photo_id)
    if photo is None or photo.order_id != order_id or photo.kind != "signature":
        raise ValidationFailed(
            "请先上传本工单的签名 / upload this order's signature first", code="signature_required"
        )
    return orders.confirm(
        session,
        actor=actor,
        order_id=order_id,
        confirmed_by=confirmed_by,
        evidence=Evidence(SIGNATURE, str(photo.id)),
    )


def _count_failed_try(session: Session, code_id: int) -> None:
    # counted in its own transaction once this one ends: the refusal rolls this one back
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_FAILED_TRIES, []).append(code_id)


@event.listens_for(Session, "after_transaction_end")
def _write_failed_tries(session: Session, transaction: Any) -> None:
    if transaction.parent is not None:
        return
    pending: list[int] = session.info.pop(_FAILED_TRIES, [])
    if not pending:
        return
    own = Session(bind=session.get_bind())
    try:
        for code_id in pending:
            own.execute(
                update(OrderConfirmationCode)
                .where(OrderConfirmationCode.id == code_id)
                .values(tries=OrderConfirmationCode.tries + 1)
            )
        own.commit()
    finally:
        own.close()
