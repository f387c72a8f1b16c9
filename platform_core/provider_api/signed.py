"""Checking a signed request of the wire protocol (``wire.py``), whoever holds the key.

The provider reporting interface and the data exchange (departments' batches, the leagues'
exports upward) authenticate the same way; only where a key is looked up, and who it belongs
to, differ. A request is checked in the order that costs an attacker most: timestamp, key,
signature, then the nonce (remembered only for signed requests), then the envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from platform_core.errors import DomainError, ValidationFailed
from platform_core.provider_api import wire
from platform_core.provider_api.nonces import NonceStore
from platform_core.security.json_input import MalformedJson
from platform_core.settings import Settings

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class Unauthenticated(DomainError):
    code = "unauthenticated"
    http_status = 401


class ReplayedRequest(DomainError):
    code = "replayed_request"
    http_status = 409


@dataclass(frozen=True)
class KeyMaterial:
    """A usable key: its secret in clear, its cipher, and whom it belongs to."""

    key_id: str
    secret: str
    cipher: str
    owner: Any


@dataclass(frozen=True)
class Received:
    """A request as an interface received it: what its signature covers, and where it came
    from (for the audit of a refusal)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    source_ip: str | None = None


@dataclass(frozen=True)
class SignedRequest:
    key: KeyMaterial
    timestamp: str
    nonce: str
    payload: Any

    def reply_aad(self) -> bytes:
        return wire.additional_data(self.key.key_id, self.timestamp, self.nonce, response=True)

    def seal_reply(self, payload: Any) -> bytes:
        return wire.seal(self.key.secret, self.key.cipher, payload, self.reply_aad())


def verify(
    received: Received,
    nonces: NonceStore,
    *,
    find_key: Callable[[str], KeyMaterial | None],
    refuse: Callable[[DomainError, KeyMaterial | None], DomainError],
    settings: Settings,
    now: datetime,
) -> SignedRequest:
    """The request's payload, decrypted, once its headers, signature and nonce pass.

    ``find_key`` gives the usable key of a key id (None when unknown or retired); ``refuse``
    records a refusal (with the key's owner once the key is known) and returns the error to
    raise. The clock skew allowed and how long a nonce is remembered are the settings'.
    """
    method, path, headers, body = received.method, received.path, received.headers, received.body
    max_skew_s, nonce_ttl_s = settings.provider_api_max_skew_s, settings.provider_api_nonce_ttl_s
    key_id, ts, nonce, signature = (
        headers.get(h, "") for h in (wire.H_KEY, wire.H_TIMESTAMP, wire.H_NONCE, wire.H_SIGNATURE)
    )
    if not (key_id and ts and nonce and signature):
        raise refuse(
            Unauthenticated("缺少签名头 / signature headers missing", code="signature_missing"),
            None,
        )
    if not _TIMESTAMP.fullmatch(ts):
        # ASCII digits only: "²".isdigit() is true and int() of 5,000 digits raises
        raise refuse(
            MalformedJson(
                "时间戳须为 Unix 秒数 (1-12 位数字) / timestamp must be Unix seconds, 1-12 digits",
                code="invalid_timestamp",
            ),
            None,
        )
    if abs(now.timestamp() - int(ts)) > max_skew_s:
        raise refuse(
            Unauthenticated(
                f"时间戳无效或偏差超过 {max_skew_s} 秒 / timestamp missing or too far off",
                code="stale_timestamp",
            ),
            None,
        )
    if not wire.NONCE_PATTERN.fullmatch(nonce):
        raise refuse(
            Unauthenticated("随机数格式不正确 / malformed nonce", code="invalid_nonce"), None
        )
    key = find_key(key_id)
    if key is None:
        raise refuse(
            Unauthenticated("密钥无效或已停用 / unknown or retired key", code="unknown_key"), None
        )
    if not wire.signature_matches(key.secret, signature, method, path, ts, nonce, body):
        raise refuse(Unauthenticated("签名不正确 / bad signature", code="bad_signature"), key)
    if not nonces.remember(key_id, nonce, nonce_ttl_s):
        raise refuse(
            ReplayedRequest("重复的请求 (随机数已使用) / replayed request: nonce seen"), key
        )
    payload: Any = None
    if body:
        try:
            payload = wire.open_envelope(
                key.secret, key.cipher, body, wire.additional_data(key_id, ts, nonce)
            )
        except wire.InvalidEnvelope as exc:
            raise refuse(
                ValidationFailed(f"无法解密请求 / undecryptable body: {exc}", code="undecryptable"),
                key,
            ) from None
    return SignedRequest(key, ts, nonce, payload)
