"""The reporting interface's wire protocol and nonce stores on their own."""

from __future__ import annotations

import pytest
import redis as redis_lib

from platform_core.provider_api import wire
from platform_core.provider_api.nonces import DatabaseNonceStore, RedisNonceStore


@pytest.mark.parametrize("cipher", wire.CIPHERS)
def test_an_envelope_opens_only_with_its_key_cipher_and_request(cipher) -> None:
    secret = wire.new_secret()
    aad = wire.additional_data("pk_1_ab", "1700000000", "n" * 16)
    payload = {"order_no": "GD20250301-00012", "seq": 1, "event": "checked_in", "note": "老人在家"}
    body = wire.seal(secret, cipher, payload, aad)
    assert "老人".encode() not in body and b"GD2025" not in body
    assert wire.open_envelope(secret, cipher, body, aad) == payload
    other_cipher = wire.SM4_GCM if cipher == wire.AES_GCM else wire.AES_GCM
    for args in [
        (wire.new_secret(), cipher, body, aad),  # another provider's secret
        (secret, other_cipher, body, aad),  # another cipher
        (secret, cipher, body, wire.additional_data("pk_1_ab", "1700000000", "m" * 16)),  # moved
        (secret, cipher, body.replace(b'"ciphertext": "', b'"ciphertext": "AAAA'), aad),  # tampered
        (secret, cipher, b"not json", aad),
    ]:
        with pytest.raises(wire.InvalidEnvelope):
            wire.open_envelope(*args)


def test_sm4_gcm_follows_the_published_test_vector() -> None:
    # RFC 8998 appendix A.1 (SM4-GCM): key, IV, AAD and plaintext give this ciphertext and tag
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    iv = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plain = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    data = wire._encrypt(key, wire.SM4_GCM, iv, plain, aad)
    assert data[-16:].hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"
    assert data[:16].hex().upper() == "17F399F08C67D5EE19D0DC9969C4BB7D"
    assert wire._decrypt(key, wire.SM4_GCM, iv, data, aad) == plain


def test_the_signature_covers_method_path_time_nonce_and_body() -> None:
    secret = wire.new_secret()
    parts = ("POST", "/provider-api/v1/events", "1700000000", "n" * 16, b'{"x":1}')
    sig = wire.sign(secret, *parts)
    assert wire.signature_matches(secret, sig, *parts)
    for i, changed in enumerate(
        ["GET", "/provider-api/v1/orders", "1700000001", "m" * 16, b'{"x":2}']
    ):
        altered = list(parts)
        altered[i] = changed
        assert not wire.signature_matches(secret, sig, *altered)
    assert not wire.signature_matches(wire.new_secret(), sig, *parts)


def test_nonces_are_remembered_once_in_the_database(runtime) -> None:
    store = DatabaseNonceStore(runtime.engine)
    nonce = wire.new_nonce()
    assert store.remember("pk_1_a", nonce, 60) is True
    assert store.remember("pk_1_a", nonce, 60) is False
    assert store.remember("pk_2_b", nonce, 60) is True  # another key's nonce space


def test_nonces_are_remembered_once_in_redis_and_expire(redis_url, base_settings) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    store = RedisNonceStore(client, base_settings.redis_namespace)
    nonce = wire.new_nonce()
    assert store.remember("pk_1_a", nonce, 60) is True
    assert store.remember("pk_1_a", nonce, 60) is False
    key = f"{base_settings.redis_namespace}:provider-api:nonce:pk_1_a:{nonce}"
    assert 0 < client.ttl(key) <= 60
