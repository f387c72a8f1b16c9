"""Remembering nonces for as long as a timestamp may be accepted, so a captured request cannot
be sent again: in Redis (SET NX with expiry) where configured, else in the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_core.db import utcnow
from platform_core.provider_api.models import ProviderApiNonce


class NonceStore(Protocol):
    def remember(self, key_id: str, nonce: str, ttl_s: int) -> bool:
        """True the first time (key, nonce) is seen within ``ttl_s``; False for a replay."""
        ...


class RedisNonceStore:
    def __init__(self, redis: Any, namespace: str) -> None:
        self.redis, self.namespace = redis, namespace

    def remember(self, key_id: str, nonce: str, ttl_s: int) -> bool:
        return bool(
            self.redis.set(
                f"{self.namespace}:provider-api:nonce:{key_id}:{nonce}", 1, nx=True, ex=ttl_s
            )
        )


class DatabaseNonceStore:
    """Each nonce is written in its own transaction: it stays remembered even when the request
    it came with is refused further on."""

    def __init__(self, bind: Any) -> None:
        self.bind = bind

    def remember(self, key_id: str, nonce: str, ttl_s: int) -> bool:
        now = utcnow()
        s = Session(bind=self.bind)
        try:
            s.execute(delete(ProviderApiNonce).where(ProviderApiNonce.expires_at < now))
            s.add(
                ProviderApiNonce(
                    key_id=key_id, nonce=nonce, expires_at=now + timedelta(seconds=ttl_s)
                )
            )
            s.commit()
            return True
        except IntegrityError:
            s.rollback()
            return False
        finally:
            s.close()
