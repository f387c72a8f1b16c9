"""Keys of the parties that send to this platform: departments (their batches) and lower
platforms (their exports), and checking their signed requests with the provider interface's
own verifier (``platform_core.provider_api.signed``): the same wire protocol, the same nonce
store, other keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_core.actors import Actor, Role
from platform_core.audit import service as audit
from platform_core.db import utcnow
from platform_core.errors import (
    DomainError,
    NotFound,
    OutOfRegion,
    PermissionDenied,
    ValidationFailed,
)
from platform_core.exchange.models import ExchangeKey
from platform_core.exchange.vocabulary import DEPARTMENTS
from platform_core.provider_api import signed, wire
from platform_core.provider_api.nonces import NonceStore
from platform_core.regions.codes import is_within
from platform_core.regions.service import within
from platform_core.runtime import cipher_of, settings_of

PLATFORM = "platform"  # a lower platform sending its export
MANAGERS = frozenset({Role.ADMIN, Role.OFFICER})


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str  # shown once
    cipher: str
    party: str
    region_code: str


def _require_manager(session: Session, actor: Actor, region_code: str, action: str) -> None:
    if actor.kind == "system" or (
        actor.role in MANAGERS and is_within(region_code, actor.region_code)
    ):
        return
    manager = actor.role in MANAGERS
    audit.record_refusal(
        session,
        actor=actor,
        action=action,
        target_type="exchange_key",
        detail={
            "reason": "out_of_region" if manager else "permission_denied",
            "region": region_code,
        },
    )
    if manager:
        raise OutOfRegion("该地区不在您的辖区内 / outside your region")
    raise PermissionDenied(
        "只有本地区的系统管理员或民政监管可以管理交换密钥 / only administrators and officers of "
        "the region manage exchange keys"
    )


def issue_key(
    session: Session,
    *,
    actor: Actor,
    party: str,
    party_name: str,
    region_code: str,
    cipher: str = wire.AES_GCM,
) -> IssuedKey:
    """A signing key for a department (its area) or a lower platform (its region)."""
    if party not in DEPARTMENTS and party != PLATFORM:
        raise ValidationFailed("未知的报送方 / unknown party", code="unknown_party")
    if cipher not in wire.CIPHERS:
        raise ValidationFailed("不支持的加密算法 / unknown cipher", code="invalid_cipher")
    _require_manager(session, actor, region_code, "exchange.issue_key")
    key_id = f"ex_{party[:6]}_{secrets.token_hex(6)}"
    secret = wire.new_secret()
    session.add(
        ExchangeKey(
            key_id=key_id,
            party=party,
            party_name=(party_name.strip() or DEPARTMENTS.get(party, party))[:60],
            region_code=region_code,
            secret_sealed=cipher_of(session).seal(secret),
            cipher=cipher,
            created_by=actor.label[:80],
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="exchange.issue_key",
        target_type="exchange_key",
        target_id=key_id,
        detail={"party": party, "region": region_code, "cipher": cipher},
    )
    return IssuedKey(key_id, secret, cipher, party, region_code)


def revoke_key(session: Session, *, actor: Actor, key_id: str) -> ExchangeKey:
    key = session.scalar(select(ExchangeKey).where(ExchangeKey.key_id == key_id))
    if key is None:
        raise NotFound("密钥不存在 / unknown key", code="key_not_found")
    _require_manager(session, actor, key.region_code, "exchange.revoke_key")
    key.status, key.revoked_at = "revoked", utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="exchange.revoke_key",
        target_type="exchange_key",
        target_id=key_id,
    )
    return key


def authenticate(
    session: Session,
    received: signed.Received,
    *,
    nonces: NonceStore,
    now: datetime | None = None,
) -> tuple[ExchangeKey, signed.SignedRequest]:
    """The sending party's key and its request, once signature, timestamp and nonce pass;
    every refusal audited."""
    now = now or utcnow()
    key_id = received.headers.get(wire.H_KEY, "")

    def find_key(kid: str) -> signed.KeyMaterial | None:
        key = session.scalar(select(ExchangeKey).where(ExchangeKey.key_id == kid))
        if key is None or key.status != "active":
            return None
        secret = cipher_of(session).open(key.secret_sealed)
        return signed.KeyMaterial(kid, secret, key.cipher, key)

    def refuse(error: DomainError, key: signed.KeyMaterial | None) -> DomainError:
        owner: ExchangeKey | None = key.owner if key is not None else None
        audit.record_refusal(
            session,
            actor=Actor(
                kind="exchange_api",
                name=(owner.party_name if owner else f"未知密钥:{key_id[:40] or '-'}")[:64],
                region_code=owner.region_code if owner else "000000000000",
            ),
            action="exchange.request",
            target_type="exchange_key",
            target_id=key_id[:40] or None,
            source_ip=received.source_ip,
            detail={"reason": error.code, "path": received.path[:200]},
        )
        return error

    request = signed.verify(
        received, nonces, find_key=find_key, refuse=refuse, settings=settings_of(session), now=now
    )
    key: ExchangeKey = request.key.owner
    key.last_used_at = now
    session.flush()
    return key, request


def list_keys(session: Session, *, actor: Actor) -> list[ExchangeKey]:
    """The keys of parties within the actor's region (never their secrets)."""
    if actor.kind != "system" and actor.role not in MANAGERS:
        return []
    return list(
        session.scalars(
            select(ExchangeKey)
            .where(within(ExchangeKey.region_code, actor.region_code))
            .order_by(ExchangeKey.id)
        )
    )
