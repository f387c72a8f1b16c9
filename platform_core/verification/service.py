"""Proving a phone: a six-digit code texted through the SMS outbox, valid for a few minutes,
a few tries, a few codes per phone an hour.

Used where someone without a console login must show they hold a number: a volunteer's phone
at registration, an elder's or a family member's phone on the online channel. Only a keyed hash
of the code is stored; a wrong code counts a try; the code is spent once it is accepted.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core import clock
from platform_core.actors import Actor
from platform_core.errors import Conflict, NotFound, ValidationFailed
from platform_core.notifications import service as sms
from platform_core.runtime import cipher_of, settings_of
from platform_core.security.masking import mask_phone
from platform_core.verification.models import PhoneVerification

PURPOSES = {"volunteer_phone": "志愿者手机验证", "online_intake": "在线受理"}


class TooManyCodes(Conflict):
    code = "too_many_codes"
    http_status = 429


class CodeRefused(ValidationFailed):
    code = "verification_failed"


@dataclass(frozen=True)
class Issued:
    verification_id: int
    sent_to: str  # masked
    expires_at: datetime


def _index(session: Session, verification_id: int, code: str) -> list[str]:
    return cipher_of(session).blind_indexes(f"verify:{verification_id}:{code}")


def issue(
    session: Session,
    *,
    actor: Actor,
    purpose: str,
    phone: str,
    region_code: str,
    source_ip: str | None = None,
    now: datetime | None = None,
) -> Issued:
    """Text a new code to ``phone`` (a mobile); at most ``verification_codes_per_hour`` a phone."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    number = sms.mobile_or_none(phone)
    if number is None:
        raise ValidationFailed(
            "请填写手机号码 (验证码以短信发送) / a mobile number is needed for the code",
            code="mobile_required",
        )
    settings = settings_of(session)
    at = now or clock.now()
    recent = int(
        session.scalar(
            select(func.count())
            .select_from(PhoneVerification)
            .where(
                PhoneVerification.phone == number,
                PhoneVerification.issued_at > at - timedelta(hours=1),
            )
        )
        or 0
    )
    if recent >= settings.verification_codes_per_hour:
        raise TooManyCodes(
            "验证码发送过于频繁, 请一小时后再试 / too many codes for this number, try again later",
            retry_after_s=3600,
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = PhoneVerification(
        purpose=purpose,
        phone=number,
        code_index="",
        issued_at=at,
        expires_at=at + timedelta(minutes=settings.verification_code_ttl_min),
        tries=0,
        source_ip=source_ip,
    )
    session.add(row)
    session.flush()
    row.code_index = cipher_of(session).blind_index(f"verify:{row.id}:{code}")
    sms.send_sms(
        session,
        to=number,
        template="verification_code",
        params={
            "code": code,
            "purpose": PURPOSES[purpose],
            "minutes": settings.verification_code_ttl_min,
        },
        actor=actor,
        ref_type="verification",
        ref_id=row.id,
        region_code=region_code,
    )
    return Issued(row.id, mask_phone(number), row.expires_at)


@dataclass(frozen=True)
class Attempt:
    """How a code fared. A wrong one has already cost a try in the caller's unit of work:
    commit it, then :meth:`raise_if_refused` (raising first would roll the try back)."""

    verification_id: int
    ok: bool
    reason: str | None = None  # wrong, expired
    tries_left: int = 0

    def raise_if_refused(self) -> None:
        if self.ok:
            return
        if self.reason == "expired":
            raise CodeRefused(
                "验证码已失效, 请重新获取 / the code has expired, ask for a new one",
                code="verification_expired",
            )
        raise CodeRefused(
            f"验证码不正确 (还可尝试 {self.tries_left} 次) / wrong code", tries_left=self.tries_left
        )


def attempt(
    session: Session, *, verification_id: int, code: str, purpose: str, now: datetime | None = None
) -> Attempt:
    """Try ``code``: a right one marks the verification proved, a wrong one costs a try
    (``verification_code_max_tries``); an expired, spent or exhausted one is refused."""
    row = session.scalar(
        select(PhoneVerification).where(PhoneVerification.id == verification_id).with_for_update()
    )
    if row is None or row.purpose != purpose:
        raise NotFound(
            "验证码不存在, 请重新获取 / no such code, ask for a new one",
            code="verification_not_found",
        )
    at = now or clock.now()
    limit = settings_of(session).verification_code_max_tries
    if row.verified_at is not None or at > row.expires_at or row.tries >= limit:
        return Attempt(row.id, False, "expired")
    given = (code or "").strip()
    matched = (
        given.isascii()
        and given.isdigit()
        and any(
            hmac.compare_digest(candidate, row.code_index)
            for candidate in _index(session, row.id, given)
        )
    )
    if not matched:
        row.tries += 1
        session.flush()
        return Attempt(row.id, False, "wrong", max(0, limit - row.tries))
    row.verified_at = at
    session.flush()
    return Attempt(row.id, True)


def consume(
    session: Session,
    *,
    verification_id: int,
    phone: str,
    purpose: str,
    within_minutes: int = 30,
    now: datetime | None = None,
) -> PhoneVerification:
    """Use a proved phone once, for ``phone`` and ``purpose``, soon after it was proved."""
    row = session.scalar(
        select(PhoneVerification).where(PhoneVerification.id == verification_id).with_for_update()
    )
    at = now or clock.now()
    if (
        row is None
        or row.purpose != purpose
        or row.verified_at is None
        or row.consumed_at is not None
        or at > row.verified_at + timedelta(minutes=within_minutes)
    ):
        raise CodeRefused(
            "手机号尚未验证或验证已使用 / the phone is not proved", code="phone_not_verified"
        )
    number = sms.mobile_or_none(phone)
    if number != row.phone:
        raise CodeRefused(
            "验证码不是发给该手机号的 / the code was sent to another number",
            code="phone_not_verified",
        )
    row.consumed_at = at
    session.flush()
    return row
