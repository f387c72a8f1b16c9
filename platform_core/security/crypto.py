"""Encryption at rest for sensitive personal data (GB/T 35273) and its searchable hashes.

Values are sealed with AES-256-GCM under a key derived from the deployment's data key; each
gets a fresh nonce and names the key it was sealed under (``v2:<key id>:...``), so the data key
can be rotated without downtime: while ``hotline keys rotate`` reseals row by row, every value
opens with the key it names (the current one or a retired one), and lookups try the keyed
hashes of every key in the ring. Values sealed before key ids (``v1:...``) open with whichever
key authenticates them.

Equality search (ID number -> elder) uses a keyed HMAC "blind index" under a second derived
key, so the database never holds a plain or unkeyed hash of an ID number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_V1, _V2 = "v1", "v2"


class DecryptionFailed(ValueError):
    """A sealed value was tampered with or sealed under a key this process does not hold."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, b"hotline12349/" + purpose, hashlib.sha256).digest()


def key_id_of(master_key: bytes) -> str:
    """A short public name for a data key (never the key itself)."""
    return _derive(master_key, b"key-id").hex()[:8]


class _Key:
    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise ValueError("master key must be 32 bytes")
        self.id = key_id_of(master)
        self.aead = AESGCM(_derive(master, b"seal"))
        self.index_key = _derive(master, b"blind-index")

    def open(self, raw: bytes, aad: bytes) -> str:
        return self.aead.decrypt(raw[:12], raw[12:], aad).decode("utf-8")


class FieldCipher:
    def __init__(self, master_key: bytes, retired: Sequence[bytes] = ()) -> None:
        self._current = _Key(master_key)
        self._ring = [self._current] + [_Key(k) for k in retired]
        self._by_id = {k.id: k for k in self._ring}

    @property
    def key_id(self) -> str:
        return self._current.id

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        aad = f"{_V2}:{self._current.id}".encode()
        ct = self._current.aead.encrypt(nonce, plaintext.encode("utf-8"), aad)
        return f"{_V2}:{self._current.id}:" + base64.urlsafe_b64encode(nonce + ct).decode()

    def sealed_with_current(self, sealed: str) -> bool:
        return sealed.startswith(f"{_V2}:{self._current.id}:")

    def open(self, sealed: str) -> str:
        version, _, rest = sealed.partition(":")
        if version == _V2:
            kid, _, body = rest.partition(":")
            key = self._by_id.get(kid)
            if key is None:
                raise DecryptionFailed(
                    f"sealed under key {kid!r}, which this process does not hold"
                )
            try:
                return key.open(base64.urlsafe_b64decode(body.encode()), f"{_V2}:{kid}".encode())
            except InvalidTag as exc:
                raise DecryptionFailed("sealed value does not authenticate") from exc
        if version != _V1:
            raise DecryptionFailed(f"unknown sealed-value version {version!r}")
        raw = base64.urlsafe_b64decode(rest.encode())
        for key in self._ring:  # before key ids: the one that authenticates it
            try:
                return key.open(raw, _V1.encode())
            except InvalidTag:
                continue
        raise DecryptionFailed("sealed value does not authenticate")

    def blind_index(self, value: str) -> str:
        """Deterministic keyed hash for equality lookups of a normalised value (current key)."""
        return hmac.new(self._current.index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def blind_indexes(self, value: str) -> list[str]:
        """The keyed hashes of ``value`` under every key in the ring: a lookup during rotation
        finds rows not yet resealed."""
        return [
            hmac.new(k.index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
            for k in self._ring
        ]
