"""Encryption at rest for sensitive personal data (GB/T 35273) and its searchable hashes.

Values are sealed with AES-256-GCM under a key derived from the deployment's data key; each
gets a fresh nonce. Equality search (ID number -> elder) uses a keyed HMAC "blind index" under a
second derived key, so the database never holds a plain or unkeyed hash of an ID number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class DecryptionFailed(ValueError):
    """A sealed value was tampered with or sealed under another key."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, b"hotline12349/" + purpose, hashlib.sha256).digest()


class FieldCipher:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("master key must be 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"seal"))
        self._index_key = _derive(master_key, b"blind-index")

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _VERSION.encode())
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + ct).decode()

    def open(self, sealed: str) -> str:
        version, _, body = sealed.partition(":")
        if version != _VERSION:
            raise DecryptionFailed(f"unknown sealed-value version {version!r}")
        raw = base64.urlsafe_b64decode(body.encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], _VERSION.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise DecryptionFailed("sealed value does not authenticate") from exc

    def blind_index(self, value: str) -> str:
        """Deterministic keyed hash for equality lookups of a normalised value."""
        return hmac.new(self._index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
