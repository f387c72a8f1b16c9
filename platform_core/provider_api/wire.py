"""The wire protocol of the provider reporting interface (服务商数据上报接口), version 1.

Self-contained (the standard library and ``cryptography``), so a provider can copy this file
and ``client.py`` into its own system.

Each provider holds a key id and a secret (32 random bytes, base64url). Two keys are derived
from the secret with HKDF-SHA256: one signs, one encrypts. A request carries four headers:

    X-Hotline-Key        the key id
    X-Hotline-Timestamp  Unix seconds; refused when more than 5 minutes off the server's clock
    X-Hotline-Nonce      16-64 characters [A-Za-z0-9_-], never used twice with the same key
    X-Hotline-Signature  base64(HMAC-SHA256(sign key, canonical request))

where the canonical request is the lines METHOD, path (with ``?query`` if any), timestamp, nonce
and the lowercase hex SHA-256 of the body, joined by ``\\n``. The body is a JSON envelope
``{"cipher", "iv", "ciphertext"}``: the payload encrypted with AES-256-GCM, or SM4-GCM (GB/T
32907 block cipher in GCM mode, as in RFC 8998) where a provider must use the national
algorithms, under a fresh 12-byte IV, with the key id, timestamp and nonce as additional
authenticated data, so an envelope cannot be moved to another request. Successful responses
come back in the same envelope (additional data suffixed ``|response``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
AES_GCM = "aes-256-gcm"
SM4_GCM = "sm4-gcm"
CIPHERS = (AES_GCM, SM4_GCM)

H_KEY = "X-Hotline-Key"
H_TIMESTAMP = "X-Hotline-Timestamp"
H_NONCE = "X-Hotline-Nonce"
H_SIGNATURE = "X-Hotline-Signature"

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TAG = 16


class InvalidEnvelope(ValueError):
    """The body is not an envelope, names another cipher, or does not decrypt (tampered)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def new_secret() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def new_nonce() -> str:
    return base64.urlsafe_b64encode(os.urandom(18)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))


def _hkdf(secret: str, length: int, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(
        _secret_bytes(secret)
    )


def signing_key(secret: str) -> bytes:
    return _hkdf(secret, 32, f"hotline12349 provider-api {VERSION} sign")


def encryption_key(secret: str, cipher: str) -> bytes:
    if cipher not in CIPHERS:
        raise InvalidEnvelope(f"unknown cipher {cipher!r}")
    return _hkdf(
        secret, 32 if cipher == AES_GCM else 16, f"hotline12349 provider-api {VERSION} {cipher}"
    )


def canonical_request(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join(
        [method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]
    ).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    mac = hmac.new(
        signing_key(secret), canonical_request(method, path, timestamp, nonce, body), "sha256"
    )
    return b64(mac.digest())


def signature_matches(
    secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bool:
    return hmac.compare_digest(sign(secret, method, path, timestamp, nonce, body), signature or "")


def additional_data(key_id: str, timestamp: str, nonce: str, *, response: bool = False) -> bytes:
    return f"{key_id}|{timestamp}|{nonce}".encode() + (b"|response" if response else b"")


def _encrypt(key: bytes, cipher: str, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if cipher == AES_GCM:
        return AESGCM(key).encrypt(iv, plaintext, aad)
    enc = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def _decrypt(key: bytes, cipher: str, iv: bytes, data: bytes, aad: bytes) -> bytes:
    if cipher == AES_GCM:
        return AESGCM(key).decrypt(iv, data, aad)
    if len(data) < _TAG:
        raise InvalidTag()
    dec = Cipher(algorithms.SM4(key), modes.GCM(iv, data[-_TAG:])).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(data[:-_TAG]) + dec.finalize()


def seal(secret: str, cipher: str, payload: Any, aad: bytes) -> bytes:
    """The JSON envelope (bytes) carrying ``payload`` encrypted."""
    iv = os.urandom(12)
    plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    data = _encrypt(encryption_key(secret, cipher), cipher, iv, plaintext, aad)
    return json.dumps({"cipher": cipher, "iv": b64(iv), "ciphertext": b64(data)}).encode()


def open_envelope(secret: str, cipher: str, body: bytes, aad: bytes) -> Any:
    """The payload inside an envelope sealed for ``cipher``; InvalidEnvelope otherwise."""
    try:
        env = json.loads(body)
        if not isinstance(env, dict) or env.get("cipher") != cipher:
            raise InvalidEnvelope(f"envelope is not {cipher}")
        plaintext = _decrypt(
            encryption_key(secret, cipher), cipher, unb64(env["iv"]), unb64(env["ciphertext"]), aad
        )
        return json.loads(plaintext)
    except InvalidEnvelope:
        raise
    except (InvalidTag, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InvalidEnvelope("envelope does not decrypt") from exc
