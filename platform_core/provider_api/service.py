"""The provider reporting interface: keys, request authentication, and applying reported events.

Keys are issued and rotated by administrators or civil-affairs officers of the provider's
region; a rotated key keeps working for ``provider_api_key_grace_h`` so a provider can switch
without a gap. A request is checked in the order that costs an attacker most: timestamp, key,
signature, then the nonce (remembered only for signed requests), then the envelope. Every
refusal is audited. An event is applied through the order's own commands, as the provider, and
kept per (order number, sequence): a repeat returns the first result, a different event under a
used sequence is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.elders.models import Elder
from platform_core.errors import Conflict, DomainError, NotFound, ValidationFailed
from platform_core.orders import confirmation
from platform_core.orders import service as orders
from platform_core.orders.models import ServiceOrder
from platform_core.orders.states import LOAD_STATUSES, STATUS_LABELS
from platform_core.provider_api import signed, wire
from platform_core.provider_api.models import KeyStatus, ProviderApiKey, ProviderReport
from platform_core.provider_api.nonces import NonceStore
from platform_core.provider_api.schemas import ReportIn
from platform_core.providers import service as providers
from platform_core.providers.access import require_office
from platform_core.providers.models import Provider
from platform_core.runtime import cipher_of, settings_of

MANAGERS = frozenset({Role.ADMIN, Role.OFFICER})


class UnknownOrder(NotFound):
    code = "order_not_found"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str  # shown once
    cipher: str
    provider_id: int


@dataclass(frozen=True)
class Caller:
    """An authenticated request: whose key, and what it carried."""

    provider: Provider
    key: ProviderApiKey
    secret: str
    timestamp: str
    nonce: str
    payload: Any

    @property
    def actor(self) -> Actor:
        return api_actor(self.provider, self.key.key_id)

    def reply_aad(self) -> bytes:
        return wire.additional_data(self.key.key_id, self.timestamp, self.nonce, response=True)


def api_actor(provider: Provider, key_id: str = "") -> Actor:
    return Actor(
        kind="provider_api",
        name=f"{provider.name[:40]}接口{(':' + key_id) if key_id else ''}"[:64],
        region_code=provider.region_code,
        role=Role.PROVIDER,
        provider_id=provider.id,
    )


# ---------------------------------------------------------------- keys


def _require_manager(session: Session, actor: Actor, provider: Provider, action: str) -> None:
    require_office(
        session,
        actor,
        roles=MANAGERS,
        action=action,
        refused="只有系统管理员或民政监管可以管理接口密钥 / only administrators and officers "
        "manage API keys",
        provider=provider,
    )


def _new_key(session: Session, actor: Actor, provider: Provider, cipher: str) -> IssuedKey:
    if cipher not in wire.CIPHERS:
        raise ValidationFailed(
            f"不支持的加密算法: {cipher} / unknown cipher",
            code="invalid_cipher",
            allowed=list(wire.CIPHERS),
        )
    key_id = f"pk_{provider.id}_{secrets.token_hex(6)}"
    secret = wire.new_secret()
    session.add(
        ProviderApiKey(
            key_id=key_id,
            provider_id=provider.id,
            secret_sealed=cipher_of(session).seal(secret),
            cipher=cipher,
            status=KeyStatus.ACTIVE,
            created_by=actor.label,
        )
    )
    session.flush()
    return IssuedKey(key_id, secret, cipher, provider.id)


def issue_key(
    session: Session, *, actor: Actor, provider_id: int, cipher: str = wire.AES_GCM
) -> IssuedKey:
    """A provider's first key (or a new one after all were revoked)."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require_manager(session, actor, provider, "provider_api.issue_key")
    if _active_key(session, provider.id) is not None:
        raise Conflict(
            "该服务商已有有效密钥, 请轮换 / the provider has a key: rotate it", code="key_exists"
        )
    issued = _new_key(session, actor, provider, cipher)
    audit.record(
        session,
        actor=actor,
        action="provider_api.issue_key",
        target_type="provider",
        target_id=provider.id,
        detail={"key_id": issued.key_id, "cipher": cipher},
    )
    return issued


def rotate_key(
    session: Session, *, actor: Actor, provider_id: int, cipher: str | None = None
) -> IssuedKey:
    """A new key; the old one keeps working for the grace period, then stops."""
    provider = providers.get_provider(session, provider_id=provider_id)
    _require_manager(session, actor, provider, "provider_api.rotate_key")
    old = _active_key(session, provider.id)
    if old is not None:
        old.status = KeyStatus.ROTATED
        old.valid_until = utcnow() + timedelta(hours=settings_of(session).provider_api_key_grace_h)
    issued = _new_key(session, actor, provider, cipher or (old.cipher if old else wire.AES_GCM))
    audit.record(
        session,
        actor=actor,
        action="provider_api.rotate_key",
        target_type="provider",
        target_id=provider.id,
        detail={
            "key_id": issued.key_id,
            "old_key_id": old.key_id if old else None,
            "old_valid_until": old.valid_until.isoformat() if old and old.valid_until else None,
        },
    )
    return issued


def revoke_key(session: Session, *, actor: Actor, key_id: str, reason: str) -> ProviderApiKey:
    key = session.scalar(select(ProviderApiKey).where(ProviderApiKey.key_id == key_id))
    if key is None:
        raise NotFound(f"密钥不存在: {key_id} / unknown key", code="key_not_found")
    provider = providers.get_provider(session, provider_id=key.provider_id)
    _require_manager(session, actor, provider, "provider_api.revoke_key")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "吊销密钥必须说明原因 / a revocation needs a reason", code="reason_required"
        )
    key.status, key.revoked_at, key.revoke_reason = KeyStatus.REVOKED, utcnow(), reason[:200]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="provider_api.revoke_key",
        target_type="provider",
        target_id=provider.id,
        detail={"key_id": key_id, "reason": reason},
    )
    return key


def _active_key(session: Session, provider_id: int) -> ProviderApiKey | None:
    return session.scalar(
        select(ProviderApiKey).where(
            ProviderApiKey.provider_id == provider_id, ProviderApiKey.status == KeyStatus.ACTIVE
        )
    )


def list_keys(session: Session, *, provider_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ProviderApiKey)
        .where(ProviderApiKey.provider_id == provider_id)
        .order_by(ProviderApiKey.id)
    )
    return [
        {
            "key_id": k.key_id,
            "cipher": k.cipher,
            "status": k.status,
            "created_at": k.created_at.isoformat(),
            "valid_until": k.valid_until.isoformat() if k.valid_until else None,
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
        }
        for k in rows
    ]


# ---------------------------------------------------------------- authentication


def _refuse(
    session: Session,
    error: DomainError,
    *,
    key_id: str | None,
    provider: Provider | None,
    source_ip: str | None,
    path: str,
) -> DomainError:
    actor = (
        api_actor(provider, key_id or "")
        if provider is not None
        else Actor(
            kind="provider_api", name=f"未知密钥:{(key_id or '-')[:40]}", region_code="000000000000"
        )
    )
    audit.record_refusal(
        session,
        actor=actor,
        action="provider_api.request",
        target_type="provider",
        target_id=provider.id if provider else None,
        source_ip=source_ip,
        detail={"reason": error.code, "key_id": (key_id or "")[:40], "path": path[:200]},
    )
    return error


def authenticate(
    session: Session,
    received: signed.Received,
    *,
    nonces: NonceStore,
    now: datetime | None = None,
) -> Caller:
    """Check a request's key, timestamp, signature, nonce and envelope; its payload decrypted."""
    now = now or utcnow()
    key_id = received.headers.get(wire.H_KEY, "")

    def find_key(kid: str) -> signed.KeyMaterial | None:
        key = session.scalar(select(ProviderApiKey).where(ProviderApiKey.key_id == kid))
        usable = key is not None and (
            key.status == KeyStatus.ACTIVE
            or (
                key.status == KeyStatus.ROTATED
                and key.valid_until is not None
                and key.valid_until > now
            )
        )
        if key is None or not usable:
            return None
        provider = providers.get_provider(session, provider_id=key.provider_id)
        secret = cipher_of(session).open(key.secret_sealed)
        return signed.KeyMaterial(kid, secret, key.cipher, (key, provider))

    def refuse(error: DomainError, key: signed.KeyMaterial | None) -> DomainError:
        return _refuse(
            session,
            error,
            key_id=key_id,
            provider=key.owner[1] if key is not None else None,
            source_ip=received.source_ip,
            path=received.path,
        )

    request = signed.verify(
        received, nonces, find_key=find_key, refuse=refuse, settings=settings_of(session), now=now
    )
    key, provider = request.key.owner
    key.last_used_at = now
    session.flush()
    return Caller(
        provider, key, request.key.secret, request.timestamp, request.nonce, request.payload
    )


# ---------------------------------------------------------------- reports


def _hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def parse_report(session: Session, caller: Caller) -> ReportIn:
    try:
        return ReportIn.model_validate(caller.payload if isinstance(caller.payload, dict) else {})
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        audit.record_refusal(
            session,
            actor=caller.actor,
            action="provider_api.report",
            target_type="provider",
            target_id=caller.provider.id,
            detail={"reason": "malformed_payload", "fields": fields},
        )
        raise ValidationFailed(
            f"上报内容格式不正确: {', '.join(fields)} / malformed report",
            code="malformed_payload",
            fields=fields,
        ) from None


def report_event(session: Session, *, caller: Caller, report: ReportIn) -> dict[str, Any]:
    """Apply one reported event to the provider's order, once per (order number, sequence)."""
    actor = caller.actor

    def refuse(reason: str, detail: dict[str, Any], *, order_id: int | None = None) -> None:
        orders.refuse_on_order(
            session,
            actor=actor,
            action="provider_api.report",
            order_id=order_id,
            reason=reason,
            detail=detail,
        )

    order_no = report.order_no.strip().upper()
    found = orders.find_order_by_no(session, order_no=order_no)
    if found is None:
        refuse("order_not_found", {"order_no": order_no})
        raise UnknownOrder(f"工单不存在: {order_no} / unknown order")
    # one report of an order at a time: the order's row lock orders them
    order = session.scalar(
        select(ServiceOrder)
        .where(ServiceOrder.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert order is not None
    payload = report.model_dump(mode="json", exclude_none=True)
    digest = _hash(payload)
    done = session.scalar(
        select(ProviderReport).where(
            ProviderReport.order_no == order_no, ProviderReport.seq == report.seq
        )
    )
    if done is not None and done.provider_id == caller.provider.id and done.payload_hash == digest:
        return {**done.result, "duplicate": True}
    if order.provider_id != caller.provider.id:
        # another provider's order answers exactly as an unknown one: no existence oracle
        refuse("not_your_order", {"order_no": order_no}, order_id=order.id)
        raise UnknownOrder(f"工单不存在: {order_no} / unknown order")
    if done is not None:
        refuse("sequence_reused", {"seq": report.seq}, order_id=order.id)
        raise Conflict(
            f"序号 {report.seq} 已用于另一条上报 / sequence {report.seq} was used for another report",
            code="sequence_reused",
        )
    before = order.transition_count
    try:
        _apply(session, actor, order, report)
    except ValidationFailed as err:
        # the order's commands audit their own refusals; incomplete events are audited here
        refuse(err.code, {"event": report.event, "seq": report.seq}, order_id=order.id)
        raise
    result = {
        "order_no": order.order_no,
        "seq": report.seq,
        "event": report.event,
        "status": order.status,
        "status_label": STATUS_LABELS.get(order.status, order.status),
        "transition_seq": order.transition_count if order.transition_count != before else None,
        "duplicate": False,
    }
    session.add(
        ProviderReport(
            provider_id=caller.provider.id,
            key_id=caller.key.key_id,
            order_no=order_no,
            seq=report.seq,
            event=report.event,
            order_id=order.id,
            occurred_at=report.occurred_at,
            payload_hash=digest,
            result=result,
        )
    )
    session.flush()
    return result


def _apply(session: Session, actor: Actor, order: ServiceOrder, r: ReportIn) -> None:
    oid = order.id
    if r.event == "accepted":
        orders.accept(session, actor=actor, order_id=oid, staff_id=r.staff_id)
    elif r.event == "rejected":
        orders.reject(session, actor=actor, order_id=oid, reason=r.reason)
    elif r.event == "staff_assigned":
        if r.staff_id is None:
            raise ValidationFailed("必须提供服务人员 / staff_id is required", code="staff_required")
        orders.assign_staff(session, actor=actor, order_id=oid, staff_id=r.staff_id)
    elif r.event == "en_route":
        orders.start_travel(session, actor=actor, order_id=oid, staff_id=r.staff_id)
    elif r.event == "checked_in":
        orders.check_in(
            session, actor=actor, order_id=oid, latitude=r.latitude, longitude=r.longitude
        )
    elif r.event == "checked_out":
        orders.check_out(
            session,
            actor=actor,
            order_id=oid,
            latitude=r.latitude,
            longitude=r.longitude,
            report=r.report,
        )
    elif r.event == "completed":
        orders.complete(session, actor=actor, order_id=oid, report=r.report)
    elif r.event == "confirmed":
        # the elder's code, read out at the door: the same rule as the portal's
        confirmation.confirm_with_code(session, actor=actor, order_id=oid, code=r.confirmation_code)


def open_orders(
    session: Session, *, caller: Caller, status: str | None = None
) -> list[dict[str, Any]]:
    """The provider's orders under way: what its own system needs to serve them."""
    statuses = [status] if status else [s.value for s in LOAD_STATUSES]
    rows = orders.list_orders(session, provider_id=caller.provider.id, status=statuses, limit=500)
    audit.record(
        session,
        actor=caller.actor,
        action="provider_api.list_orders",
        target_type="provider",
        target_id=caller.provider.id,
        detail={"count": len(rows), "status": status},
    )
    out = []
    for o in rows:
        elder = session.get(Elder, o.elder_id)
        out.append(
            {
                "order_no": o.order_no,
                "status": o.status,
                "service_type_code": o.service_type_code,
                "urgency": o.urgency,
                "address": o.address,
                "latitude": o.latitude,
                "longitude": o.longitude,
                "elder_name": elder.name if elder else "",
                "requested_at": o.requested_at.isoformat() if o.requested_at else None,
                "response_due_at": o.response_due_at.isoformat(),
                "arrival_due_at": o.arrival_due_at.isoformat() if o.arrival_due_at else None,
                "staff_id": o.staff_id,
                "notes": o.notes,
                "next_seq": _next_seq(session, o.order_no),
            }
        )
    return out


def _next_seq(session: Session, order_no: str) -> int:
    return (
        int(
            session.scalar(
                select(func.max(ProviderReport.seq)).where(ProviderReport.order_no == order_no)
            )
            or 0
        )
        + 1
    )
